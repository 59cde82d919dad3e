// Waits until the server answers /healthz (it is started by `cargo leptos end-to-end`
// just before the tests), polling for at most two minutes.
export default async function globalSetup(): Promise<void> {
  const url = `${process.env.TANDEM_E2E_URL ?? 'http://127.0.0.1:3000'}/healthz`;
  const deadline = Date.now() + 120_000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
      last = `status ${res.status}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the server at ${url} did not come up: ${last}`);
}
