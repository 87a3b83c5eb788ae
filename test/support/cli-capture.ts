/** An `Io` for `main(argv, io)` that keeps what a command wrote, for assertions. */
export function capture() {
  let out = '';
  let err = '';
  return {
    io: { out: { isTTY: false, write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) } },
    get out() {
      return out;
    },
    get err() {
      return err;
    },
  };
}
