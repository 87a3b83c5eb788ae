/**
 * Bridges of the graph of suppressed entries of an augmented count table: entry (r, c) is an edge between row
 * line r and column line c. A bridge lies on no cycle, so the line equations solve for it exactly.
 * Returns the bridges as [row, column] pairs (empty when every suppressed entry lies on a cycle).
 */
export function bridgesOf(suppressed: readonly Uint8Array[]): [number, number][] {
  const R = suppressed.length;
  const C = suppressed[0]?.length ?? 0;
  // Nodes 0..R-1 are row lines, R..R+C-1 column lines.
  const adjacency: number[][] = Array.from({ length: R + C }, () => []);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      if (suppressed[r]![c] === 0) continue;
      adjacency[r]!.push(R + c);
      adjacency[R + c]!.push(r);
    }
  }
  const order = new Int32Array(R + C).fill(-1);
  const low = new Int32Array(R + C);
  const bridges: [number, number][] = [];
  let time = 0;
  // Iterative Tarjan: a table of a few hundred lines would be fine recursively, but nothing bounds it.
  for (let root = 0; root < R + C; root++) {
    if (order[root] !== -1 || adjacency[root]!.length === 0) continue;
    const stack: { node: number; parent: number; next: number }[] = [{ node: root, parent: -1, next: 0 }];
    order[root] = low[root] = time++;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const edges = adjacency[top.node]!;
      if (top.next < edges.length) {
        const to = edges[top.next++]!;
        // A simple graph (one edge per row-column pair), so skipping the parent node skips only the tree edge.
        if (to === top.parent) continue;
        if (order[to] === -1) {
          order[to] = low[to] = time++;
          stack.push({ node: to, parent: top.node, next: 0 });
        } else {
          low[top.node] = Math.min(low[top.node]!, order[to]!);
        }
        continue;
      }
      stack.pop();
      const parent = top.parent;
      if (parent === -1) continue;
      low[parent] = Math.min(low[parent]!, low[top.node]!);
      if (low[top.node]! > order[parent]!) {
        const [a, b] = parent < R ? [parent, top.node] : [top.node, parent];
        bridges.push([a, b - R]);
      }
    }
  }
  return bridges;
}
