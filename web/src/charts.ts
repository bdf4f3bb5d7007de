/**
 * Charts (Chart.js, tree-shaken: only the pieces registered here are bundled). The x axis is linear
 * in milliseconds with our own UTC labels, so no date adapter is needed. Charts are pictures only:
 * every charted value is also in a table next to them with its exact number.
 */
import { ArcElement, Chart, DoughnutController, Filler, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';
import { formatBitRate, formatBytes, formatClock, formatPacketRate } from './format.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, Filler, Legend, Tooltip, DoughnutController, ArcElement);
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
Chart.defaults.animation = false;

const PALETTE = ['#2563eb', '#db2777', '#16a34a', '#ea580c', '#7c3aed', '#0891b2', '#ca8a04', '#dc2626', '#4b5563', '#65a30d'];

export interface RatePoint {
  /** Bucket end (ms): the rate is over the bucket that ends there. */
  ms: number;
  packetsPerSecond: number;
  bitsPerSecond: number;
}

export interface RateSeries {
  label: string;
  points: RatePoint[];
}

/** Packets/s (left axis) and bits/s (right axis) over time; several series (e.g. sent and received) share the axes. */
export function rateChart(canvas: HTMLCanvasElement, series: RateSeries[]): Chart {
  const first = series[0]?.points[0]?.ms ?? 0;
  const last = series[0]?.points.at(-1)?.ms ?? 0;
  const span = last - first;
  const datasets = series.flatMap((one, index) => [
    {
      label: `${one.label} bits/s`,
      data: one.points.map((p) => ({ x: p.ms, y: p.bitsPerSecond })),
      yAxisID: 'bits',
      borderColor: PALETTE[(index * 2) % PALETTE.length],
      backgroundColor: `${PALETTE[(index * 2) % PALETTE.length]}22`,
      fill: series.length === 1,
      pointRadius: 0,
      borderWidth: 2,
      tension: 0.2,
    },
    {
      label: `${one.label} packets/s`,
      data: one.points.map((p) => ({ x: p.ms, y: p.packetsPerSecond })),
      yAxisID: 'packets',
      borderColor: PALETTE[(index * 2 + 1) % PALETTE.length],
      borderDash: [4, 3],
      pointRadius: 0,
      borderWidth: 2,
      tension: 0.2,
    },
  ]);
  return new Chart(canvas, {
    type: 'line',
    data: { datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      parsing: false,
      scales: {
        x: { type: 'linear', min: first, max: last, ticks: { maxTicksLimit: 6, callback: (value) => formatClock(Number(value), span) } },
        bits: { type: 'linear', position: 'right', beginAtZero: true, ticks: { callback: (value) => formatBitRate(Number(value)) } },
        packets: { type: 'linear', position: 'left', beginAtZero: true, grid: { drawOnChartArea: false }, ticks: { callback: (value) => formatPacketRate(Number(value)) } },
      },
      plugins: {
        legend: { position: 'bottom', labels: { boxWidth: 12 } },
        tooltip: {
          callbacks: {
            title: (items) => (items[0] === undefined ? '' : new Date(items[0].parsed.x ?? 0).toISOString()),
            label: (item) => `${item.dataset.label ?? ''}: ${item.dataset.yAxisID === 'bits' ? formatBitRate(item.parsed.y ?? 0) : formatPacketRate(item.parsed.y ?? 0)}`,
          },
        },
      },
    },
  });
}

/** Share of bytes per protocol. */
export function mixChart(canvas: HTMLCanvasElement, slices: { label: string; bytes: number }[]): Chart {
  return new Chart(canvas, {
    type: 'doughnut',
    data: {
      labels: slices.map((s) => s.label),
      datasets: [{ data: slices.map((s) => s.bytes), backgroundColor: slices.map((_, i) => PALETTE[i % PALETTE.length]!) }],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: { position: 'right', labels: { boxWidth: 12 } },
        tooltip: { callbacks: { label: (item) => `${item.label}: ${formatBytes(Number(item.raw))}` } },
      },
    },
  });
}
