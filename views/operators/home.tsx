export function OperatorHomePage(props: { userName: string }) {
  return (
    <section aria-labelledby="operator-title">
      <h1 id="operator-title">Platform operator</h1>
      <p>
        You are signed in as a platform operator, {props.userName}. Operators produce and mail jobs that practices have
        approved. You do not belong to any practice: practice pages, proofs, recipient lists and audit trails are not
        available to you, and every attempt to open them is refused and recorded.
      </p>
      <p><a class="button" href="/operator">Open the production queue</a> <a href="/operator/incidents">Incident reports</a> · <a href="/support">Support</a></p>
      <h2>Your sessions</h2>
      <p><a href="/account/sessions">See where you are signed in</a>, or end every session at once.</p>
      <form method="post" action="/logout/everywhere">
        <button type="submit" class="button button-secondary">Sign out everywhere</button>
      </form>
    </section>
  );
}
