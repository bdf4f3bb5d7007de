// The image's HEALTHCHECK: asks the component's own health endpoint. NETSPECTRA_HEALTH_URL names
// it; otherwise the defaults are tried in turn: the metrics endpoint of `engine` and `serve`
// (:9464/healthz) and the HTTP API of `api` and `serve` (:8080/healthz). An endpoint that answers
// decides (200: healthy); a component that serves none (probe, analyze) is healthy while it runs.
const urls = process.env.NETSPECTRA_HEALTH_URL
  ? [process.env.NETSPECTRA_HEALTH_URL]
  : ['http://127.0.0.1:9464/healthz', 'http://127.0.0.1:8080/healthz'];
for (const url of urls) {
  let response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(2500) });
  } catch {
    continue; // nothing listens there
  }
  if (response.ok) process.exit(0);
  console.error(`${url}: ${response.status} ${await response.text()}`);
  process.exit(1);
}
process.exit(process.env.NETSPECTRA_HEALTH_URL ? 1 : 0);
