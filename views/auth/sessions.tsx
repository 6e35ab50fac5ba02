export type SessionRow = { id: string; ip: string | null; userAgent: string | null; createdAt: string; lastSeenAt: string; current: boolean };

/** Where a browser's user agent can be named plainly, do so; otherwise show it as sent. */
export function describeDevice(userAgent: string | null): string {
  if (!userAgent) return "Unknown device";
  const browser = /Edg\//.test(userAgent) ? "Edge" : /Firefox\//.test(userAgent) ? "Firefox" : /Chrome\//.test(userAgent) ? "Chrome" : /Safari\//.test(userAgent) ? "Safari" : null;
  const system = /Windows/.test(userAgent) ? "Windows" : /Mac OS X/.test(userAgent) ? "macOS" : /Android/.test(userAgent) ? "Android" : /iPhone|iPad/.test(userAgent) ? "iOS" : /Linux/.test(userAgent) ? "Linux" : null;
  return browser && system ? `${browser} on ${system}` : userAgent.slice(0, 80);
}

export function SessionsPage(props: { sessions: SessionRow[] }) {
  return (
    <section aria-labelledby="sessions-title">
      <h1 id="sessions-title">Your sessions</h1>
      <p>Each device or browser where you are signed in. End any you do not recognise, then change your password.</p>
      <table>
        <caption class="visually-hidden">Signed-in sessions</caption>
        <thead>
          <tr><th scope="col">Device</th><th scope="col">IP address</th><th scope="col">Signed in (UTC)</th><th scope="col">Last active (UTC)</th><th scope="col"><span class="visually-hidden">Action</span></th></tr>
        </thead>
        <tbody>
          {props.sessions.map((s) => (
            <tr>
              <td>{describeDevice(s.userAgent)}{s.current ? <strong> (this session)</strong> : null}</td>
              <td>{s.ip ?? "unknown"}</td>
              <td>{s.createdAt}</td>
              <td>{s.lastSeenAt}</td>
              <td>
                {s.current ? null : (
                  <form method="post" action={`/account/sessions/${s.id}/revoke`}>
                    <button type="submit" class="button button-secondary" aria-label={`End the session on ${describeDevice(s.userAgent)} last active ${s.lastSeenAt}`}>End session</button>
                  </form>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form method="post" action="/logout/everywhere">
        <button type="submit" class="button">Sign out everywhere</button>
      </form>
    </section>
  );
}
