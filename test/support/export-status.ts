/**
 * Poll a Bulk Data `$export` status URL until the job stops answering 202 (at most 500 polls, 20 ms apart), as a
 * client does; returns the last answer (200 with the manifest once complete).
 */
export async function exportFinished(status: string, headers: Record<string, string>): Promise<Response> {
  let res = await fetch(status, { headers });
  for (let i = 0; res.status === 202 && i < 500; i++) {
    await new Promise((r) => setTimeout(r, 20));
    res = await fetch(status, { headers });
  }
  return res;
}
