//go:build linux || darwin || freebsd

package store

import "golang.org/x/sys/unix"

// freeBytes returns the bytes free to an unprivileged user on dir's file
// system.
func freeBytes(dir string) (int64, bool) {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true
}
