import { request } from 'node:http';

/**
 * POST `total` bytes to `url` in 1 MiB writes that wait for the socket to drain, stopping once the answer arrives:
 * the answer's status and error code, and how many bytes had been written by then.
 */
export function streamBody(
  url: string,
  total: number,
  headers: Record<string, string> = {},
): Promise<{ status: number; code: string | undefined; written: number }> {
  const chunk = Buffer.alloc(1024 * 1024, 0x20);
  return new Promise((resolve, reject) => {
    let written = 0;
    let answered = false;
    const req = request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(total), ...headers },
    });
    req.on('error', (e) => {
      if (!answered) reject(e);
    });
    req.on('response', (res) => {
      answered = true;
      const at = written;
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => {
        req.destroy();
        const json = JSON.parse(Buffer.concat(parts).toString('utf8')) as {
          issue?: { details: { coding: { code: string }[] } }[];
        };
        resolve({ status: res.statusCode ?? 0, code: json.issue?.[0]?.details.coding[0]?.code, written: at });
      });
    });
    const pump = () => {
      while (!answered && written < total) {
        const part = chunk.subarray(0, Math.min(chunk.length, total - written));
        written += part.length;
        if (!req.write(part)) return void req.once('drain', pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}
