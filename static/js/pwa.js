// Registers the service worker (served from /sw.js, scope "/") and offers a reload when
// a new version has been installed and is waiting.

/**
 * Register the worker; call `onUpdate(apply)` when a new version waits, where
 * `apply()` lets it take over and reloads the page. Resolves with the registration.
 */
export async function registerServiceWorker(url, onUpdate) {
  if (!("serviceWorker" in navigator)) return null;
  const registration = await navigator.serviceWorker.register(url, { scope: "/" });
  let reloading = false;
  const apply = () => {
    const waiting = registration.waiting;
    if (!waiting) return;
    navigator.serviceWorker.addEventListener("controllerchange", () => {
      if (reloading) return;
      reloading = true;
      window.location.reload();
    });
    waiting.postMessage({ type: "skip-waiting" });
  };
  const offer = () => {
    // Only an update waits while another worker controls the page.
    if (registration.waiting && navigator.serviceWorker.controller) onUpdate(apply);
  };
  offer();
  registration.addEventListener("updatefound", () => {
    const worker = registration.installing;
    worker?.addEventListener("statechange", () => {
      if (worker.state === "installed") offer();
    });
  });
  return registration;
}
