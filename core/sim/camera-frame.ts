/**
 * Turns an ordinary camera frame (RGBA bytes, e.g. a webcam's ImageData) into the luminance frame the
 * event model takes: centre-cropped to the sensor's aspect ratio, box-filtered down to the sensor size,
 * BT.601 luma in DN (0..255). Optionally mirrored, as webcams usually show a mirror image while a DVS
 * facing a person does not.
 */

export interface CameraFrameOptions {
  /** Flip left-right (default false). */
  mirror?: boolean;
}

/**
 * Writes the sensor-sized luminance of `rgba` (srcW × srcH, 4 bytes per pixel, row-major) into `out`
 * (dstW × dstH). Each output pixel averages the source pixels its area covers (box filter), so scaling
 * down does not alias. Returns `out`.
 */
export function cameraFrameToLuma(
  rgba: Uint8Array | Uint8ClampedArray, srcW: number, srcH: number, dstW: number, dstH: number,
  out: Float32Array = new Float32Array(dstW * dstH), opts: CameraFrameOptions = {},
): Float32Array {
  if (!(srcW > 0 && srcH > 0 && dstW > 0 && dstH > 0)) throw new RangeError('frame sizes must be positive');
  if (rgba.length < srcW * srcH * 4) throw new RangeError(`RGBA frame has ${rgba.length} bytes, ${srcW}×${srcH} needs ${srcW * srcH * 4}`);
  if (out.length < dstW * dstH) throw new RangeError('output frame too small');
  // Centre crop to the destination aspect ratio.
  let cw = srcW, ch = srcH;
  if (srcW * dstH > srcH * dstW) cw = Math.round((srcH * dstW) / dstH);
  else ch = Math.round((srcW * dstH) / dstW);
  const ox = (srcW - cw) >> 1, oy = (srcH - ch) >> 1;
  const sx = cw / dstW, sy = ch / dstH;
  for (let y = 0; y < dstH; y++) {
    const y0 = oy + Math.floor(y * sy), y1 = Math.max(y0 + 1, oy + Math.floor((y + 1) * sy));
    for (let x = 0; x < dstW; x++) {
      const xs = opts.mirror ? dstW - 1 - x : x;
      const x0 = ox + Math.floor(xs * sx), x1 = Math.max(x0 + 1, ox + Math.floor((xs + 1) * sx));
      let acc = 0;
      for (let yy = y0; yy < y1; yy++) {
        let p = (yy * srcW + x0) * 4;
        for (let xx = x0; xx < x1; xx++, p += 4) acc += 0.299 * rgba[p] + 0.587 * rgba[p + 1] + 0.114 * rgba[p + 2];
      }
      out[y * dstW + x] = acc / ((y1 - y0) * (x1 - x0));
    }
  }
  return out;
}
