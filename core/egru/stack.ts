/**
 * Stacked EGRU layers: layer l+1's input is layer l's (sparse) output y; backward chains each layer's dX into
 * the dy of the layer below.
 */
import type { EgruGrads, EgruUpstream, Float } from './types.ts';
import type { EgruLayerConfig, EgruLayerContext } from './layer.ts';
import { EgruLayer } from './layer.ts';
import type { EgruInitOptions } from './params.ts';
import { createEgruParams } from './params.ts';

export class EgruStack<A extends Float = Float32Array> {
  readonly layers: EgruLayer<A>[];

  constructor(layers: EgruLayer<A>[]) {
    if (layers.length === 0) throw new RangeError('EgruStack needs at least one layer');
    for (let l = 1; l < layers.length; l++) {
      if (layers[l].inputSize !== layers[l - 1].hiddenSize) {
        throw new RangeError(`EgruStack: layer ${l} input size ${layers[l].inputSize} ≠ layer ${l - 1} hidden size ${layers[l - 1].hiddenSize}`);
      }
    }
    this.layers = layers;
  }

  /** A float32 stack with EvNN initialisation: sizes [C, H1, H2, …]; layer l is seeded with seed + l. */
  static create(
    sizes: number[],
    o: Omit<EgruInitOptions, 'inputSize' | 'hiddenSize' | 'dtype'> & { layer?: EgruLayerConfig<Float32Array> },
  ): EgruStack<Float32Array> {
    const layers: EgruLayer<Float32Array>[] = [];
    for (let l = 0; l + 1 < sizes.length; l++) {
      const p = createEgruParams({ ...o, inputSize: sizes[l], hiddenSize: sizes[l + 1], seed: o.seed + l, dtype: 'float32' });
      layers.push(new EgruLayer(p, { ...o.layer, seed: (o.layer?.seed ?? o.seed) + 1000 + l }));
    }
    return new EgruStack(layers);
  }

  get outputSize(): number {
    return this.layers[this.layers.length - 1].hiddenSize;
  }

  /** Runs every layer; returns one context per layer (its `result` holds y, c, o, tr). */
  forward(x: A, T: number, N: number, o: { training?: boolean; y0?: (A | undefined)[] } = {}): EgruLayerContext<A>[] {
    const ctxs: EgruLayerContext<A>[] = [];
    let input = x;
    for (let l = 0; l < this.layers.length; l++) {
      const ctx = this.layers[l].forward(input, T, N, { training: o.training, y0: o.y0?.[l] });
      ctxs.push(ctx);
      input = ctx.result.y;
    }
    return ctxs;
  }

  /**
   * Backward through the stack. `top` is the upstream of the last layer; `perLayer[l]` adds upstream gradients
   * on any layer's own outputs (e.g. an activity regulariser on c or o). Returns grads per layer; `grads[0].dX` is
   * the gradient w.r.t. the stack's input.
   */
  backward(ctxs: EgruLayerContext<A>[], top: EgruUpstream<A>, perLayer: (EgruUpstream<A> | undefined)[] = []): EgruGrads<A>[] {
    const L = this.layers.length;
    if (ctxs.length !== L) throw new RangeError(`EgruStack.backward: ${ctxs.length} contexts for ${L} layers`);
    const grads = new Array<EgruGrads<A>>(L);
    let fromAbove: A | null = null;
    for (let l = L - 1; l >= 0; l--) {
      const own = l === L - 1 ? mergeUp(top, perLayer[l]) : { ...(perLayer[l] ?? {}) };
      if (fromAbove) own.dy = own.dy ? addInto(own.dy.slice() as A, fromAbove) : fromAbove;
      grads[l] = this.layers[l].backward(ctxs[l], own);
      fromAbove = grads[l].dX;
    }
    return grads;
  }

  clampTheta(): void {
    for (const l of this.layers) l.clampTheta();
  }
}

function addInto<A extends Float>(dst: A, src: A): A {
  for (let i = 0; i < dst.length; i++) dst[i] += src[i];
  return dst;
}

function mergeUp<A extends Float>(a: EgruUpstream<A>, b: EgruUpstream<A> | undefined): EgruUpstream<A> {
  if (!b) return { ...a };
  const out: EgruUpstream<A> = {};
  for (const k of ['dy', 'dc', 'do', 'dtr'] as const) {
    const x = a[k];
    const y = b[k];
    out[k] = x && y ? addInto(x.slice() as A, y) : (x ?? y);
  }
  return out;
}
