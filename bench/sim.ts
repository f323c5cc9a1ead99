/**
 * Simulator benchmark: `node bin/run-ts.mjs bench/sim.ts [--subjects K] [--seconds D] [--json]`.
 *
 * Simulates K subjects (default 2) performing all 11 classes for D s each (default 3) in memory — the same
 * code path `egru sim` uses, without the file writes — and reports, from this one run:
 *   cpu_s_per_recorded_s   user CPU seconds per second of simulated recording (< 1 = faster than real time)
 *   events_per_cpu_s       events generated per CPU second
 *   event rate             events per recorded second, overall and inside labelled gestures; ON fraction
 */
import { TrialSimulator, planDataset, type SimDatasetOptions } from '../core/sim/dataset.ts';

const args = process.argv.slice(2);
const arg = (k: string, d: number) => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const opts: SimDatasetOptions = { seed: 1, subjects: arg('subjects', 2), durationPerGestureS: arg('seconds', 3) };
let events = 0, on = 0, simUs = 0, inEv = 0, inUs = 0, frames = 0;
const c0 = process.cpuUsage();
for (const spec of planDataset(opts)) {
  const sim = new TrialSimulator(spec, opts);
  const labels = [...sim.labels].sort((a, b) => a.startUs - b.startUs);
  for (const l of labels) inUs += l.endUs - l.startUs;
  let li = 0;
  for (;;) {
    const t = sim.timeUs;
    const ev = sim.step();
    if (!ev) break;
    while (li < labels.length && labels[li].endUs <= t) li++;
    const inside = li < labels.length && t >= labels[li].startUs;
    events += ev.length;
    if (inside) inEv += ev.length;
    for (let i = 0; i < ev.length; i++) on += ev.p[i];
  }
  simUs += sim.durationUs;
  frames += sim.frameCount;
}
const cpu = process.cpuUsage(c0).user / 1e6;
const simS = simUs / 1e6;
const res = {
  trials: planDataset(opts).length,
  recorded_s: +simS.toFixed(1),
  frames,
  mean_step_us: Math.round(simUs / frames),
  cpu_s: +cpu.toFixed(2),
  cpu_s_per_recorded_s: +(cpu / simS).toFixed(3),
  events,
  events_per_cpu_s: Math.round(events / cpu),
  rate_ev_per_s: Math.round(events / simS),
  rate_in_gestures_ev_per_s: Math.round(inEv / (inUs / 1e6)),
  on_fraction: +(on / Math.max(1, events)).toFixed(3),
};
if (args.includes('--json')) console.log(JSON.stringify(res));
else for (const [k, v] of Object.entries(res)) console.log(`${k.padEnd(28)} ${v}`);
