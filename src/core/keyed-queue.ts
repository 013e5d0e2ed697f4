// Serialising work per key: tasks for one key run one after another (each after the previous
// settles, success or not), tasks for different keys run at once. DNS providers use it so two
// writers of one TXT name (an apex and its wildcard) never lose each other's value.

export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
