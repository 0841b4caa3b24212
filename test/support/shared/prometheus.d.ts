export interface PrometheusSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export type PrometheusMetrics = Map<string, { type: string | undefined; samples: PrometheusSample[] }>;

export function parseLabels(text: string): Record<string, string>;
export function parsePrometheus(text: string): PrometheusMetrics;
/** Sum over label sets (filtered by `where`); undefined when the metric is not exposed at all. */
export function metricSum(metrics: PrometheusMetrics, name: string, where?: Record<string, string>): number | undefined;
