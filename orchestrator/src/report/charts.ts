/**
 * The report's vega-lite chart specs: latency histogram and CDF per arm, per-repetition
 * spread of a metric, handler activity. Data is inlined; rendering happens in svg.ts.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { CdfRow, HistogramRow, Op } from './distributions.js';

const WIDTH = 560;
const NS_AXIS = { title: 'latency (ns, log scale)', format: '~s' } as const;

export interface BarStat {
  variant: string;
  metric: string;
  mean: number;
  min: number;
  max: number;
}

export interface RepetitionPoint {
  variant: string;
  repetition: number;
  value: number;
  /** value / mean of its variant - 1: spreads of variants far apart stay comparable. */
  deviation: number;
}

/** Every chart colours variants the same way: the summary's variant order. */
function color(variants: string[], legend: boolean) {
  return { field: 'variant', type: 'nominal', scale: { domain: variants }, ...(legend ? { title: 'variant' } : { legend: null }) } as const;
}

/** Histogram (fraction of accesses per octave) as one row of bars per variant. */
export function histogramSpec(op: Op, rows: HistogramRow[], variants: string[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `${op} latency histogram (all repetitions)`,
    data: { values: rows },
    facet: { row: { field: 'variant', type: 'nominal', title: null, header: { labelAngle: 0, labelAlign: 'left' } } },
    spec: {
      width: WIDTH,
      height: 90,
      mark: { type: 'rect', tooltip: true },
      encoding: {
        x: { field: 'loNs', type: 'quantitative', scale: { type: 'log' }, axis: NS_AXIS },
        x2: { field: 'hiNs' },
        y: { field: 'perOctave', type: 'quantitative', title: 'fraction / octave' },
        y2: { datum: 0 },
        color: color(variants, false),
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

export function cdfSpec(op: Op, rows: CdfRow[], variants: string[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `${op} latency CDF`,
    width: WIDTH,
    height: 260,
    data: { values: rows },
    mark: { type: 'line', interpolate: 'linear', tooltip: true },
    encoding: {
      x: { field: 'ns', type: 'quantitative', scale: { type: 'log' }, axis: NS_AXIS },
      y: { field: 'cumulative', type: 'quantitative', title: 'fraction of accesses ≤ latency', scale: { domain: [0, 1] } },
      color: color(variants, true),
    },
  };
}

/** Each repetition's value as a dot, one line per variant: the spread at a glance. */
export function repetitionsSpec(metric: string, points: RepetitionPoint[], variants: string[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `${metric} per repetition`,
    width: WIDTH,
    data: { values: points },
    mark: { type: 'point', filled: true, size: 60, tooltip: true },
    encoding: {
      y: { field: 'variant', type: 'nominal', title: null, sort: variants },
      x: { field: 'deviation', type: 'quantitative', title: `deviation from the variant's mean`, axis: { format: '+.0%' } },
      color: color(variants, false),
      tooltip: [{ field: 'variant' }, { field: 'repetition' }, { field: 'value', title: metric, format: ',.4~r' }, { field: 'deviation', format: '+.2%' }],
    },
  };
}

/** One small bar chart per metric (mean, with a min-max rule over repetitions). */
export function barsSpec(title: string, stats: BarStat[], variants: string[]): TopLevelSpec {
  const metrics = [...new Set(stats.map((s) => s.metric))];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    hconcat: metrics.map((metric) => ({
      width: 160,
      height: 160,
      title: metric,
      data: { values: stats.filter((s) => s.metric === metric) },
      layer: [
        {
          mark: { type: 'bar', tooltip: true },
          encoding: {
            x: { field: 'variant', type: 'nominal', title: null, axis: { labelAngle: -30 }, sort: variants },
            y: { field: 'mean', type: 'quantitative', title: null },
            color: color(variants, false),
          },
        },
        {
          mark: { type: 'rule' },
          encoding: {
            x: { field: 'variant', type: 'nominal', sort: variants },
            y: { field: 'min', type: 'quantitative' },
            y2: { field: 'max' },
          },
        },
      ],
    })),
  };
}
