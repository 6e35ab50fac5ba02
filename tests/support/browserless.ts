// A tiny client over app.request(): keeps cookies like a browser and sends same-origin form posts.
import type { TestApp } from "./app.ts";
import { TEST_ORIGIN } from "./app.ts";
import { type Person, sessionToken } from "./people.ts";

export class Client {
  cookies = new Map<string, string>();
  constructor(private readonly t: TestApp, private readonly ip = "198.51.100.7") {}

  private remember(res: Response) {
    for (const header of res.headers.getSetCookie()) {
      const [pair, ...attrs] = header.split(";");
      const [name, ...rest] = pair!.split("=");
      const value = rest.join("=");
      const expired = attrs.some((a) => /max-age=0/i.test(a.trim())) || value === "";
      if (expired) this.cookies.delete(name!.trim());
      else this.cookies.set(name!.trim(), value);
    }
  }

  private headers(extra: Record<string, string> = {}) {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    return { "x-forwarded-for": this.ip, "user-agent": "TestBrowser/1.0", ...(cookie ? { cookie } : {}), ...extra };
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    const res = await this.t.app.request(`${TEST_ORIGIN}${path}`, { headers: this.headers(headers) });
    this.remember(res);
    return res;
  }

  async post(path: string, body: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    const res = await this.t.app.request(`${TEST_ORIGIN}${path}`, {
      method: "POST",
      headers: this.headers({ "content-type": "application/x-www-form-urlencoded", origin: TEST_ORIGIN, ...headers }),
      body: new URLSearchParams(body).toString(),
    });
    this.remember(res);
    return res;
  }
}

/** A client signed in as `person` (a fresh session, second factor passed when they have one). */
export async function clientAs(t: TestApp, person: Person, ip?: string): Promise<Client> {
  const client = new Client(t, ip);
  client.cookies.set("__Host-plh_session", await sessionToken(t, person));
  return client;
}
