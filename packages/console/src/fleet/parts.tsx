// What the Fleet's two pages share.

/** The API's Santa routes answer 404: the sync server is off, which is a state, not a failure. */
export function SantaOff() {
  return (
    <section class="notice" role="status" aria-labelledby="santa-off-title">
      <h2 id="santa-off-title">Santa is off on this server</h2>
      <p>
        This server's configuration does not turn on the Santa sync server (
        <code>santa.enabled</code> is <code>false</code>), so no machine syncs with it and there is
        no fleet to show: the API answers <code>404</code> for <code>/v1/santa/machines</code>.
      </p>
      <p>
        <code>docs/endpoints.md</code>, "Turning it on", says how: the groups, their enrollment
        tokens and Santa's own configuration.
      </p>
    </section>
  );
}
