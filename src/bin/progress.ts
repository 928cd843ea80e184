// A one-line progress bar on standard error, drawn only when it is a terminal.

export class Progress {
  readonly #total: number;
  readonly #tty = process.stderr.isTTY === true;
  #done = 0;
  #drawn = 0;

  constructor(totalBytes: number) {
    this.#total = Math.max(1, totalBytes);
  }

  advance(bytes: number): void {
    this.#done += bytes;
    const now = Date.now();
    if (!this.#tty || now - this.#drawn < 100) return;
    this.#drawn = now;
    const share = Math.min(1, this.#done / this.#total);
    const width = 30;
    const bar = '█'.repeat(Math.round(share * width)).padEnd(width, '░');
    process.stderr.write(
      `\r${bar} ${(share * 100).toFixed(0).padStart(3)}%  ${(this.#done / 1048576).toFixed(1)} / ${(this.#total / 1048576).toFixed(1)} MiB`,
    );
  }

  done(): void {
    if (this.#tty) process.stderr.write('\r\x1b[K');
  }
}
