/** Calls a server's admin API with a bearer token; a non-2xx answer throws with its status and body. */
export type AdminCall = (method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>;

export function adminClient(baseUrl: string, token: string): AdminCall {
  return async (method, path, body) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
}
