/** An `Io` that keeps what a CLI command writes, for assertions. */
export function captureIo() {
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
