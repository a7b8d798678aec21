// Common page behaviour: send the CSRF token with every htmx request.
document.addEventListener("htmx:configRequest", (event) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) event.detail.headers["X-CSRFToken"] = meta.content;
});

// Signing out forgets the venue's offline data on this phone: the validity list (IndexedDB
// "lists") and the cards seen today. Visits still waiting to be sent stay in the queue.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches('form[action$="/sign-out"]') || form.dataset.forgotten) return;
  event.preventDefault();
  form.dataset.forgotten = "1";
  try {
    localStorage.removeItem("kaikukortti-visited");
  } catch {
    // storage not available: nothing kept
  }
  const done = () => form.submit();
  if (!window.indexedDB) return done();
  const request = indexedDB.open("kaikukortti");
  request.onerror = done;
  request.onsuccess = () => {
    const db = request.result;
    if (!db.objectStoreNames.contains("lists")) {
      db.close();
      return done();
    }
    const tx = db.transaction("lists", "readwrite");
    tx.objectStore("lists").clear();
    tx.oncomplete = tx.onerror = tx.onabort = () => {
      db.close();
      done();
    };
  };
  request.onupgradeneeded = () => request.transaction.abort();
});
