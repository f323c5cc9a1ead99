import { describe, expect, it } from 'vitest';
import { cameraFrameToLuma } from '../../../core/sim/camera-frame.ts';
import { EsimState } from '../../../core/sim/esim.ts';

function rgba(w: number, h: number, f: (x: number, y: number) => [number, number, number]): Uint8Array {
  const a = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) a.set([...f(x, y), 255], (y * w + x) * 4);
  return a;
}

describe('cameraFrameToLuma (webcam frame → sensor luminance)', () => {
  it('uses BT.601 luma and box-averages when scaling down', () => {
    const src = rgba(4, 4, (x) => (x < 2 ? [255, 0, 0] : [0, 0, 255]));
    const out = cameraFrameToLuma(src, 4, 4, 2, 2);
    expect(out[0]).toBeCloseTo(0.299 * 255, 4);
    expect(out[1]).toBeCloseTo(0.114 * 255, 4);
    const one = cameraFrameToLuma(src, 4, 4, 1, 1);
    expect(one[0]).toBeCloseTo(((0.299 + 0.114) / 2) * 255, 4);
  });

  it('centre-crops 640×480 to a square and mirrors on request', () => {
    // Left 80 columns (cropped away) are black, the rest has a left-to-right ramp.
    const src = rgba(640, 480, (x) => (x < 80 ? [0, 0, 0] : [Math.floor((x - 80) / 480 * 255), Math.floor((x - 80) / 480 * 255), Math.floor((x - 80) / 480 * 255)]));
    const out = cameraFrameToLuma(src, 640, 480, 128, 128);
    expect(out[0]).toBeLessThan(2);
    expect(out[127]).toBeGreaterThan(250);
    const mir = cameraFrameToLuma(src, 640, 480, 128, 128, undefined, { mirror: true });
    expect(mir[0]).toBeCloseTo(out[127], 6);
    expect(() => cameraFrameToLuma(new Uint8Array(10), 640, 480, 128, 128)).toThrow(RangeError);
  });

  it('feeds the event model: a brightening frame gives ON events only', () => {
    const es = new EsimState({ width: 8, height: 8, thresholdSigma: 0, shotNoiseHz: 0, leakHz: 0, randomizeInitialReference: false }, 1);
    es.feed(cameraFrameToLuma(rgba(32, 32, () => [60, 60, 60]), 32, 32, 8, 8), 0);
    const ev = es.feed(cameraFrameToLuma(rgba(32, 32, () => [120, 120, 120]), 32, 32, 8, 8), 33_000);
    expect(ev.length).toBe(64 * 3); // ln 2 / 0.2 → 3 ON events per pixel
    expect(Array.from(ev.p.subarray(0, ev.length)).every((p) => p === 1)).toBe(true);
  });
});
