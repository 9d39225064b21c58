// A gate that writers wait at while the server is down or being checked (the kill -9 tests).
export class Gate {
  #open = false;
  #waiters: Array<() => void> = [];
  open(): void {
    this.#open = true;
    for (const w of this.#waiters.splice(0)) w();
  }
  close(): void {
    this.#open = false;
  }
  get isOpen(): boolean {
    return this.#open;
  }
  wait(): Promise<void> {
    return this.#open ? Promise.resolve() : new Promise((r) => this.#waiters.push(r));
  }
}
