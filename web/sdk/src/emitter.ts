// The one event emitter: listeners run synchronously, in order; one that
// throws does not stop the others (its error is rethrown on a later task,
// where the page's console shows it).

export class Emitter<M> {
  private listeners = new Map<keyof M, Array<(data: M[keyof M]) => void>>();

  on<K extends keyof M>(name: K, fn: (data: M[K]) => void): void {
    const list = this.listeners.get(name) ?? [];
    list.push(fn as (data: M[keyof M]) => void);
    this.listeners.set(name, list);
  }

  off<K extends keyof M>(name: K, fn: (data: M[K]) => void): void {
    const list = this.listeners.get(name);
    if (!list) return;
    const i = list.indexOf(fn as (data: M[keyof M]) => void);
    if (i >= 0) list.splice(i, 1);
  }

  emit<K extends keyof M>(name: K, data: M[K]): void {
    const list = this.listeners.get(name);
    if (!list) return;
    for (const fn of list.slice()) {
      try {
        fn(data);
      } catch (e) {
        setTimeout(() => {
          throw e;
        });
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
