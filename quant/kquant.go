package quant

// Scale searches shared by the K-quants, after the reference's
// make_qx_quants, make_q3_quants and make_qkx2_quants. They run without
// importance weights, as llama-quantize does when given no imatrix.

// makeQXQuants quantizes x to integers l in [-nmax, nmax-1] with one scale,
// weighting each value by x² (rmse_type 1): it starts from the scale that
// maps the value of largest magnitude to -nmax, fits the least-squares
// scale for the rounded l, and tries 18 nearby starting scales, keeping the
// best fit. L receives l+nmax; the fitted scale is returned.
func makeQXQuants(nmax int, x []float32, L []int8) float32 {
	mx, amax := signedAbsMax(x)
	if amax < groupMaxEps {
		clear(L)
		return 0
	}
	fit := func(iscale float32) (sumlx, suml2 float32) {
		for _, v := range x {
			l := float32(clampInt(nearestInt(iscale*v), -nmax, nmax-1))
			w := float32(v * v)
			sumlx += float32(float32(w*v) * l)
			suml2 += float32(float32(w*l) * l)
		}
		return sumlx, suml2
	}
	store := func(iscale float32) {
		for i, v := range x {
			L[i] = int8(nmax + clampInt(nearestInt(iscale*v), -nmax, nmax-1))
		}
	}
	iscale := float32(-nmax) / mx
	store(iscale)
	sumlx, suml2 := fit(iscale)
	var scale float32
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := float32(scale * sumlx)
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(float32(nmax) + float32(float32(0.1)*float32(is))) / mx
		sumlx, suml2 = fit(iscale)
		if suml2 > 0 && float32(sumlx*sumlx) > float32(best*suml2) {
			store(iscale)
			scale = sumlx / suml2
			best = float32(scale * sumlx)
		}
	}
	return scale
}

// makeQ3Quants quantizes x to integers in [-nmax, nmax-1], weighting by x²:
// it rounds with the scale mapping the largest magnitude to -nmax, then
// moves single values to the level that most improves the least-squares
// fit, for up to five rounds. L receives l+nmax; the scale is returned.
func makeQ3Quants(nmax int, x []float32, L []int8) float32 {
	mx, amax := signedAbsMax(x)
	if amax < groupMaxEps {
		clear(L)
		return 0
	}
	iscale := float32(-nmax) / mx
	var sumlx, suml2 float32
	for i, v := range x {
		l := clampInt(nearestInt(iscale*v), -nmax, nmax-1)
		L[i] = int8(l)
		w := float32(v * v)
		sumlx += float32(float32(w*v) * float32(l))
		suml2 += float32(float32(w*float32(l)) * float32(l))
	}
	for itry := 0; itry < 5; itry++ {
		changed := 0
		for i, v := range x {
			w := float32(v * v)
			li := float32(L[i])
			slx := sumlx - float32(float32(w*v)*li)
			if slx > 0 {
				sl2 := suml2 - float32(float32(w*li)*li)
				nl := clampInt(nearestInt(float32(v*sl2)/slx), -nmax, nmax-1)
				if nl != int(L[i]) {
					fl := float32(nl)
					slx += float32(float32(w*v) * fl)
					sl2 += float32(float32(w*fl) * fl)
					if sl2 > 0 && float32(float32(slx*slx)*suml2) > float32(float32(sumlx*sumlx)*sl2) {
						L[i] = int8(nl)
						sumlx, suml2 = slx, sl2
						changed++
					}
				}
			}
		}
		if changed == 0 {
			break
		}
	}
	for i := range x {
		L[i] += int8(nmax)
	}
	if suml2 > 0 {
		return sumlx / suml2
	}
	return 0
}

// makeQKX2Quants quantizes x to integers in [0, nmax] with a scale and a
// non-positive offset (x ≈ scale·l - min), minimizing the weighted squared
// (or, with mad, absolute) error: it starts from the range [min(x,0),
// max(x)] and tries nstep+1 scales (rmin + rdelta·is + nmax)/(max-min),
// solving the weighted least-squares scale and offset for each rounding.
// L receives l; Laux is scratch of len(x). It returns the scale and the
// offset magnitude (-min).
func makeQKX2Quants(nmax int, x, weights []float32, L, Laux []uint8, rmin, rdelta float32, nstep int, mad bool) (scale, theMin float32) {
	n := len(x)
	mn, mx := x[0], x[0]
	sumW := weights[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < n; i++ {
		if x[i] < mn {
			mn = x[i]
		}
		if x[i] > mx {
			mx = x[i]
		}
		w := weights[i]
		sumW += w
		sumX += float32(w * x[i])
	}
	if mn > 0 {
		mn = 0
	}
	if mx == mn {
		clear(L[:n])
		return 0, -mn
	}
	errOf := func(scale, mn float32, L []uint8) float32 {
		var e float32
		for i, v := range x {
			diff := float32(scale*float32(L[i])) + mn - v
			if mad {
				diff = abs32(diff)
			} else {
				diff = float32(diff * diff)
			}
			e += float32(weights[i] * diff)
		}
		return e
	}
	iscale := float32(nmax) / (mx - mn)
	scale = 1 / iscale
	for i, v := range x {
		L[i] = uint8(clampInt(nearestInt(float32(iscale*(v-mn))), 0, nmax))
	}
	bestErr := errOf(scale, mn, L)
	for is := 0; is <= nstep; is++ {
		iscale = (rmin + float32(rdelta*float32(is)) + float32(nmax)) / (mx - mn)
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			l := clampInt(nearestInt(float32(iscale*(v-mn))), 0, nmax)
			Laux[i] = uint8(l)
			w := weights[i]
			fl := float32(l)
			sumL += float32(w * fl)
			sumL2 += float32(float32(w*fl) * fl)
			sumXL += float32(float32(w*fl) * v)
		}
		D := float32(sumW*sumL2) - float32(sumL*sumL)
		if D > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / D
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			if e := errOf(thisScale, thisMin, Laux); e < bestErr {
				copy(L[:n], Laux[:n])
				bestErr = e
				scale, mn = thisScale, thisMin
			}
		}
	}
	return scale, -mn
}

// scaleMinK4 unpacks the 6-bit scale and min of block j (0..7) from the
// 12 scale bytes of Q4_K and Q5_K.
func scaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&15 | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// packScaleMinK4 packs eight 6-bit scales and mins into 12 bytes.
func packScaleMinK4(dst []byte, ls, lm *[8]uint8) {
	clear(dst[:12])
	for j := 0; j < 8; j++ {
		if j < 4 {
			dst[j] = ls[j]
			dst[j+4] = lm[j]
		} else {
			dst[j+4] = ls[j]&15 | (lm[j]&15)<<4
			dst[j-4] |= (ls[j] >> 4) << 6
			dst[j] |= (lm[j] >> 4) << 6
		}
	}
}
