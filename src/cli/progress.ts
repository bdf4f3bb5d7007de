/** A one-line progress bar on a terminal (stderr); silent when stderr is not a TTY. */
import type { WriteStream } from 'node:tty';

export class ProgressBar {
  readonly #stream: WriteStream | undefined;
  readonly #label: string;
  #lastDraw = 0;

  constructor(label: string, stream: NodeJS.WriteStream = process.stderr) {
    this.#label = label;
    this.#stream = stream.isTTY ? stream : undefined;
  }

  /** Redraw at most ten times a second. */
  update(done: number, total: number, packets: number): void {
    if (this.#stream === undefined) return;
    const now = Date.now();
    if (now - this.#lastDraw < 100 && done < total) return;
    this.#lastDraw = now;
    const width = Math.max(10, Math.min(40, (this.#stream.columns ?? 80) - 50));
    const ratio = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(ratio * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    this.#stream.write(`\r${this.#label} ${bar} ${(ratio * 100).toFixed(0).padStart(3)}%  ${packets.toLocaleString('en-US')} packets`);
  }

  done(): void {
    if (this.#stream === undefined) return;
    this.#stream.write('\r\x1b[2K');
  }
}
