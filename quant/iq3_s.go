package quant

import (
	"sync"

	"github.com/shimmer-llm/shimmer/gguf"
)

// IQ3_S: super-blocks of 256 values: f16 d, 64 bytes qs (low 8 bits of the
// grid index of each group of 4 values), 8 bytes qh (bit g%8 of byte g/8 is
// bit 8 of group g's index), 32 bytes of signs (bit e%8 of byte e/8 set:
// element e is negative), then 4 bytes of 4-bit scales, one per 32-block;
// x = d·(1+2·sc)·grid[index][e%4]·sign. 110 bytes per super-block.
var iq3_sTraits = Traits{
	Type: gguf.TypeIQ3_S, BlockSize: 256, BlockBytes: 110,
	Dequantize: dequantizeIQ3_S, Quantize: quantizeIQ3_S,
	VecDotType: gguf.TypeQ8_K, VecDot: vecDotIQ3_SQ8_K,
}

// iq3sGrid holds the coordinates of the 512 grid points, iq3sIndex the
// grid index of each of the 4096 codes (-1 off the grid).
var iq3sGrid, iq3sIndex = func() (g [512][4]uint8, idx [4096]int16) {
	k := 0
	for c := 0; c < 4096; c++ {
		idx[c] = -1
		if iq3sGridBits[c/64]>>(c%64)&1 == 0 {
			continue
		}
		for i := 0; i < 4; i++ {
			g[k][i] = uint8(2*(c>>(3*i)&7) + 1)
		}
		idx[c] = int16(k)
		k++
	}
	if k != 512 {
		panic("quant: IQ3_S grid table does not hold 512 points")
	}
	return g, idx
}()

// iq3sNeighbours lists, for every code off the grid, the grid points at
// the three smallest squared distances from it, ordered by distance then
// index (the candidates the reference quantizer searches).
var iq3sNeighbours = sync.OnceValue(func() *[4096][]uint16 {
	var nb [4096][]uint16
	var d2 [512]int
	for c := 0; c < 4096; c++ {
		if iq3sIndex[c] >= 0 {
			continue
		}
		var pos [4]int
		for i := range pos {
			pos[i] = 2*(c>>(3*i)&7) + 1
		}
		var dist [3]int // the three smallest distinct distances
		dist[0], dist[1], dist[2] = 1<<30, 1<<30, 1<<30
		for j := range iq3sGrid {
			s := 0
			for i := 0; i < 4; i++ {
				t := int(iq3sGrid[j][i]) - pos[i]
				s += t * t
			}
			d2[j] = s
			switch {
			case s < dist[0]:
				dist[0], dist[1], dist[2] = s, dist[0], dist[1]
			case s > dist[0] && s < dist[1]:
				dist[1], dist[2] = s, dist[1]
			case s > dist[1] && s < dist[2]:
				dist[2] = s
			}
		}
		var list []uint16
		for _, want := range dist {
			for j := range d2 {
				if d2[j] == want {
					list = append(list, uint16(j))
				}
			}
		}
		nb[c] = list
	}
	return &nb
})

// iq3sGroupIndex returns the grid index of group g (0..63) of a block.
func iq3sGroupIndex(blk []byte, g int) int {
	return int(blk[2+g]) | int(blk[66+g/8]>>(g%8)&1)<<8
}

// iq3sScale returns the odd multiplier 1+2·sc of 32-block ib.
func iq3sScale(blk []byte, ib int) int32 {
	return 1 + 2*int32(blk[106+ib/2]>>(4*(ib%2))&15)
}

// unpackIQ3S decodes the signed grid values of a block.
func unpackIQ3S(q *[256]int8, blk []byte) {
	for g := 0; g < 64; g++ {
		p := &iq3sGrid[iq3sGroupIndex(blk, g)]
		for i := 0; i < 4; i++ {
			e := 4*g + i
			v := int8(p[i])
			if blk[74+e/8]>>(e%8)&1 != 0 {
				v = -v
			}
			q[e] = v
		}
	}
}

func dequantizeIQ3_S(dst []float32, src []byte) {
	var q [256]int8
	for b := 0; b < len(dst)/256; b++ {
		blk := src[110*b : 110*b+110]
		d := f16(blk)
		unpackIQ3S(&q, blk)
		out := dst[256*b : 256*b+256]
		for ib := 0; ib < 8; ib++ {
			db := d * float32(iq3sScale(blk, ib))
			for e := 32 * ib; e < 32*ib+32; e++ {
				out[e] = db * float32(q[e])
			}
		}
	}
}

// iq3sBestNeighbour picks, among the neighbours of an off-grid code, the
// grid point closest to xval/scale in the weighted squared distance, stores
// its levels in L and returns its index.
func iq3sBestNeighbour(list []uint16, xval, weight []float32, scale float32, L []int8) int {
	best := float32(3.4028234663852886e38)
	idx := -1
	for _, j := range list {
		var d2 float32
		for i := 0; i < 4; i++ {
			diff := float32(scale*float32(iq3sGrid[j][i])) - xval[i]
			d2 += float32(float32(weight[i]*diff) * diff)
		}
		if d2 < best {
			best, idx = d2, int(j)
		}
	}
	if idx < 0 {
		idx = int(list[0])
	}
	for i := 0; i < 4; i++ {
		L[i] = int8((iq3sGrid[idx][i] - 1) / 2)
	}
	return idx
}

// iq3sCode rounds four values to lattice levels with inverse scale id.
func iq3sCode(xval []float32, id float32, L []int8) int {
	u := 0
	for i := 0; i < 4; i++ {
		l := clampInt(nearestInt(0.5*(float32(id*xval[i])-1)), 0, 7)
		L[i] = int8(l)
		u |= l << (3 * i)
	}
	return u
}

// quantizeIQ3_S follows the reference's quantize_iq3_s without importance
// weights (weights x²): per 32-block, signs are split off, 19 scales are
// tried, each rounding to the lattice and snapping off-grid groups to their
// best neighbour, and the best least-squares fit is kept.
func quantizeIQ3_S(dst []byte, src []float32) {
	nbs := iq3sNeighbours()
	var scales [8]float32
	var weight, xval, waux [32]float32
	var L, Laux [32]int8
	var onGrid, onGridAux [8]bool
	var signs [4]uint8
	for b := 0; b < len(src)/256; b++ {
		blk := dst[110*b : 110*b+110]
		clear(blk)
		var maxScale float32
		for ib := 0; ib < 8; ib++ {
			xb := src[256*b+32*ib : 256*b+32*ib+32]
			for i, v := range xb {
				weight[i] = v * v
				waux[i] = sqrt32(weight[i])
			}
			for k := 0; k < 4; k++ {
				var s uint8
				for i := 0; i < 8; i++ {
					if v := xb[8*k+i]; v >= 0 {
						xval[8*k+i] = v
					} else {
						xval[8*k+i] = -v
						s |= 1 << i
					}
				}
				signs[k] = s
			}
			mx := xval[0]
			for _, v := range xval[1:] {
				mx = max(mx, v)
			}
			clear(L[:])
			if mx == 0 {
				scales[ib] = 0
				continue
			}
			var best float32
			scale := mx / 15
			clear(onGrid[:])
			for is := -9; is <= 9; is++ {
				id := (15 + float32(float32(is)*0.2)) / mx
				thisScale := 1 / id
				for k := 0; k < 8; k++ {
					u := iq3sCode(xval[4*k:4*k+4], id, Laux[4*k:4*k+4])
					onGridAux[k] = iq3sIndex[u] >= 0
					if !onGridAux[k] {
						iq3sBestNeighbour(nbs[u], xval[4*k:4*k+4], waux[4*k:4*k+4], thisScale, Laux[4*k:4*k+4])
					}
				}
				sumqx, sumq2 := iq3sFit(&weight, &xval, &Laux)
				if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
					scale = sumqx / sumq2
					best = float32(scale * sumqx)
					L, onGrid = Laux, onGridAux
				}
			}
			off := false
			for _, g := range onGrid {
				off = off || !g
			}
			if off && scale > 0 {
				id := 1 / scale
				for k := 0; k < 8; k++ {
					u := iq3sCode(xval[4*k:4*k+4], id, L[4*k:4*k+4])
					if iq3sIndex[u] < 0 {
						iq3sBestNeighbour(nbs[u], xval[4*k:4*k+4], waux[4*k:4*k+4], scale, L[4*k:4*k+4])
					}
				}
				if sumqx, sumq2 := iq3sFit(&weight, &xval, &L); sumq2 > 0 {
					scale = sumqx / sumq2
				}
			}
			if scale < 0 {
				scale = -scale
				for k := range signs {
					signs[k] = ^signs[k]
				}
			}
			for k := 0; k < 8; k++ {
				u := 0
				for i := 0; i < 4; i++ {
					u |= int(L[4*k+i]) << (3 * i)
				}
				gi := max(0, int(iq3sIndex[u&4095]))
				g := 8*ib + k
				blk[2+g] = uint8(gi)
				blk[66+g/8] |= uint8(gi>>8) << (g % 8)
			}
			copy(blk[74+4*ib:78+4*ib], signs[:])
			scales[ib] = scale
			maxScale = max(maxScale, scale)
		}
		if maxScale == 0 {
			continue
		}
		d := maxScale / 31
		put16(blk, FP32ToFP16(d*1.033))
		id := 1 / d
		for ib := 0; ib < 8; ib += 2 {
			l1 := clampInt(nearestInt(0.5*(float32(id*scales[ib])-1)), 0, 15)
			l2 := clampInt(nearestInt(0.5*(float32(id*scales[ib+1])-1)), 0, 15)
			blk[106+ib/2] = uint8(l1 | l2<<4)
		}
	}
}

// iq3sFit returns Σw·x·q and Σw·q² for levels L (q = 2L+1).
func iq3sFit(weight, xval *[32]float32, L *[32]int8) (sumqx, sumq2 float32) {
	for i := 0; i < 32; i++ {
		w, q := weight[i], float32(2*int(L[i])+1)
		sumqx += float32(float32(w*xval[i]) * q)
		sumq2 += float32(float32(w*q) * q)
	}
	return sumqx, sumq2
}

func vecDotIQ3_SQ8_K(n int, w, x []byte) float32 {
	var sum float32
	var q [256]int8
	for b := 0; b < n/256; b++ {
		wb, xb := w[110*b:110*b+110], x[292*b:292*b+292]
		unpackIQ3S(&q, wb)
		q8 := xb[4:260]
		var bsum int32
		for ib := 0; ib < 8; ib++ {
			var s int32
			for e := 32 * ib; e < 32*ib+32; e++ {
				s += int32(q[e]) * int32(int8(q8[e]))
			}
			bsum += s * iq3sScale(wb, ib)
		}
		sum += (f16(wb) * q8kScale(xb)) * float32(bsum)
	}
	return sum
}
