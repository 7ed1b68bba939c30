/**
 * A local DynamoDB speaking the real wire protocol (awsJson1_0: `POST /`, `X-Amz-Target:
 * DynamoDB_20120810.<Op>`, `Content-Type: application/x-amz-json-1.0`, AttributeValues as JSON with blobs
 * base64), so `@aws-sdk/client-dynamodb` runs unmodified with an `endpoint` override. Operations:
 * DescribeTable, PutItem, GetItem, BatchGetItem, Scan (Limit / ExclusiveStartKey). Tables have a hash key
 * only. Test-only: SigV4 is not checked, but whether one was sent is recorded.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

type AttributeValue = Record<string, unknown>;
type Item = Record<string, AttributeValue>;

export interface DynamoTestServer {
  readonly url: string;
  createTable(name: string, hashKey: string): void;
  items(table: string): Map<string, Item>;
  readonly requests: Array<{ target: string; signed: boolean; body: Record<string, unknown> }>;
  /** Make the next `count` calls fail with this AWS error type and HTTP status. */
  failNext(type: string, status: number, count?: number): void;
  stop(): Promise<void>;
}

export async function startDynamoServer(): Promise<DynamoTestServer> {
  const tables = new Map<string, { hashKey: string; items: Map<string, Item> }>();
  const requests: DynamoTestServer['requests'] = [];
  let failure: { type: string; status: number; count: number } | undefined;
  const keyOf = (table: { hashKey: string }, item: Item): string | undefined => {
    const v = item[table.hashKey];
    return v === undefined ? undefined : JSON.stringify(v);
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        body = {};
      }
      requests.push({ target, signed: String(req.headers['authorization'] ?? '').startsWith('AWS4-HMAC-SHA256'), body });
      const send = (status: number, value: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(value));
      };
      const error = (status: number, type: string, message: string): void => send(status, { __type: `com.amazonaws.dynamodb.v20120810#${type}`, message });
      if (req.method !== 'POST' || !target.startsWith('DynamoDB_20120810.')) return error(400, 'UnknownOperationException', 'unknown operation');
      if (failure !== undefined && failure.count > 0) {
        failure.count--;
        return error(failure.status, failure.type, 'injected failure');
      }
      const op = target.slice('DynamoDB_20120810.'.length);
      const tableName = String(body['TableName'] ?? '');
      const table = tables.get(tableName);
      const notFound = (): void => error(400, 'ResourceNotFoundException', `Requested resource not found: Table: ${tableName} not found`);
      switch (op) {
        case 'DescribeTable':
          if (!table) return notFound();
          return send(200, {
            Table: {
              TableName: tableName,
              TableStatus: 'ACTIVE',
              KeySchema: [{ AttributeName: table.hashKey, KeyType: 'HASH' }],
              AttributeDefinitions: [{ AttributeName: table.hashKey, AttributeType: 'S' }],
              ItemCount: table.items.size,
            },
          });
        case 'PutItem': {
          if (!table) return notFound();
          const item = (body['Item'] ?? {}) as Item;
          const k = keyOf(table, item);
          if (k === undefined) return error(400, 'ValidationException', 'One or more parameter values were invalid: Missing the key Name in the item');
          table.items.set(k, item);
          return send(200, {});
        }
        case 'GetItem': {
          if (!table) return notFound();
          const k = keyOf(table, (body['Key'] ?? {}) as Item);
          const item = k === undefined ? undefined : table.items.get(k);
          return send(200, item === undefined ? {} : { Item: item });
        }
        case 'BatchGetItem': {
          const responses: Record<string, Item[]> = {};
          for (const [name, ka] of Object.entries((body['RequestItems'] ?? {}) as Record<string, { Keys: Item[] }>)) {
            const t = tables.get(name);
            if (!t) return notFound();
            responses[name] = ka.Keys.flatMap((key) => {
              const item = t.items.get(keyOf(t, key) ?? '');
              return item === undefined ? [] : [item];
            });
          }
          return send(200, { Responses: responses, UnprocessedKeys: {} });
        }
        case 'Scan': {
          if (!table) return notFound();
          const all = [...table.items.entries()];
          const start = body['ExclusiveStartKey'] === undefined ? 0 : all.findIndex(([k]) => k === keyOf(table, body['ExclusiveStartKey'] as Item)) + 1;
          const limit = typeof body['Limit'] === 'number' ? body['Limit'] : all.length;
          const page = all.slice(start, start + limit);
          const last = start + limit < all.length ? page[page.length - 1]?.[1] : undefined;
          return send(200, {
            Items: page.map(([, i]) => i),
            Count: page.length,
            ScannedCount: page.length,
            ...(last === undefined ? {} : { LastEvaluatedKey: { [table.hashKey]: last[table.hashKey] } }),
          });
        }
        default:
          return error(400, 'UnknownOperationException', `operation ${op} not implemented by the stand-in`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    createTable: (name, hashKey) => tables.set(name, { hashKey, items: new Map() }),
    items: (table) => {
      const out = new Map<string, Item>();
      for (const item of tables.get(table)?.items.values() ?? []) out.set(String((item[tables.get(table)?.hashKey ?? ''] as { S?: unknown } | undefined)?.S), item);
      return out;
    },
    requests,
    failNext: (type, status, count = 1) => {
      failure = { type, status, count };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
