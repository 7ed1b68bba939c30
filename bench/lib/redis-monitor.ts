/**
 * Counts the commands clients send to Redis while it runs, with `MONITOR` on its own connection:
 * every top-level command (a Lua script call counts once; the commands a script runs, shown as
 * `[0 lua]`, are not counted). Each is at most one round trip (ioredis may pipeline several into
 * one), so the count per job is an upper bound of the queue's own Redis round trips per job.
 * MONITOR costs Redis some throughput: the figure is taken over a window of the benchmark.
 */
import net from 'node:net';

export interface RedisMonitor {
  stop(): Promise<{ readonly commands: number; readonly byCommand: Record<string, number> }>;
}

export async function startRedisMonitor(url: string): Promise<RedisMonitor> {
  const u = new URL(url);
  const socket = net.connect(Number(u.port || 6379), u.hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const byCommand: Record<string, number> = {};
  let commands = 0;
  let rest = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\r\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      // +1700000000.123456 [0 127.0.0.1:54321] "evalsha" "…" …
      const m = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
      if (m === null || m[1] === 'lua') continue;
      const name = (m[2] ?? '').toLowerCase();
      commands++;
      byCommand[name] = (byCommand[name] ?? 0) + 1;
    }
  });
  socket.write('MONITOR\r\n');
  return {
    stop: async () => {
      socket.destroy();
      return { commands, byCommand: Object.fromEntries(Object.entries(byCommand).sort((a, b) => b[1] - a[1])) };
    },
  };
}

/** Calls per command name from `INFO commandstats` (commands run by scripts included). */
export async function redisCommandStats(url: string): Promise<Record<string, number>> {
  const u = new URL(url);
  const socket = net.connect(Number(u.port || 6379), u.hostname);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.setEncoding('utf8');
    const text = await new Promise<string>((resolve, reject) => {
      let data = '';
      socket.on('data', (chunk: string) => {
        data += chunk;
        // A bulk reply: `$<length>\r\n<body>\r\n`.
        const m = /^\$(\d+)\r\n/.exec(data);
        if (m?.[1] !== undefined && Buffer.byteLength(data) >= m[0].length + Number(m[1]) + 2) resolve(data);
      });
      socket.once('error', reject);
      socket.write('INFO commandstats\r\n');
    });
    const calls: Record<string, number> = {};
    for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[(m[1] ?? '').toLowerCase()] = Number(m[2]);
    return calls;
  } finally {
    socket.destroy();
  }
}

/**
 * Top-level commands between two `INFO commandstats` snapshots, without MONITOR's cost: the script
 * calls and blocking fetches, which only clients send (scripts cannot call scripts or block). Plain
 * GET/SET are left out because scripts run them too (the queue's own are ~0.3 per job by MONITOR).
 */
export function topLevelCommands(before: Record<string, number>, after: Record<string, number>): { commands: number; byCommand: Record<string, number> } {
  const byCommand: Record<string, number> = {};
  let commands = 0;
  for (const name of ['evalsha', 'eval', 'evalsha_ro', 'eval_ro', 'fcall', 'bzpopmin', 'bzpopmax', 'brpoplpush', 'blmove']) {
    const n = (after[name] ?? 0) - (before[name] ?? 0);
    if (n <= 0) continue;
    byCommand[name] = n;
    commands += n;
  }
  return { commands, byCommand };
}
