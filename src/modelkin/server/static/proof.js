/*
 * Re-checks, in the reader's browser, the inclusion proof a record page shows
 * (templates/_proof.html): a page that said "verified" without the numbers adding up
 * would be caught by the page itself. Loaded after policy-check.js, whose note parser and
 * RFC 9162 inclusion check it uses; WebCrypto only, no network requests.
 *
 * For each element with data-proof it
 *   1. hashes the embedded ledger entry (data-entry, base64) as an RFC 6962 leaf,
 *      SHA-256(0x00 || entry), and compares it with the leaf hash the server states;
 *   2. checks the checkpoint's signature (data-checkpoint, a C2SP signed note) with the
 *      log key (data-log-key, name+hex(keyID)+base64(0x01 || Ed25519 public key));
 *   3. walks the audit path (data-path) from that leaf to the signed root.
 * The verdict goes into the element's [data-proof-result] as text, and into
 * data-browser-check ("ok" or "failed") for tests.
 */
(function () {
  "use strict";
  const enc = new TextEncoder();

  const { b64, cat, sha256, ed25519 } = window.modelkinPolicy;

  function hex(s) {
    if (!/^([0-9a-f]{2})*$/.test(s)) throw new Error("not lowercase hex");
    const out = new Uint8Array(s.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
    return out;
  }
  function toHex(u8) {
    return Array.from(u8, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  async function signedBy(noteText, vkey) {
    const first = vkey.indexOf("+"), second = vkey.indexOf("+", first + 1);
    const name = vkey.slice(0, first), keyId = vkey.slice(first + 1, second);
    const raw = b64(vkey.slice(second + 1));
    const note = window.modelkinPolicy.parseNote(noteText);
    if (raw.length !== 33 || raw[0] !== 1) return { note, ok: false };
    for (const s of note.sigs) {
      if (s.name === name && toHex(s.keyId) === keyId) {
        return { note, ok: await ed25519(raw.slice(1), enc.encode(note.body), s.sig) };
      }
    }
    return { note, ok: false };
  }

  async function check(el) {
    const out = el.querySelector("[data-proof-result]");
    const say = (ok, text) => {
      el.dataset.browserCheck = ok ? "ok" : "failed";
      if (out) {
        out.textContent = text;
        out.className = "proof-result " + (ok ? "proof-ok" : "proof-bad");
      }
    };
    try {
      const stated = hex(el.dataset.leaf);
      let leaf = stated, from = "the leaf hash stated above (the entry is too large to embed)";
      if (el.dataset.entry) {
        const entry = b64(el.dataset.entry);
        leaf = await sha256(cat(new Uint8Array([0]), entry));
        if (toHex(leaf) !== toHex(stated)) {
          say(false, "Your browser hashed the entry and got a different leaf hash than the server states.");
          return;
        }
        from = "the " + entry.length + "-byte entry itself";
      }
      const { note, ok: signed } = await signedBy(el.dataset.checkpoint, el.dataset.logKey);
      if (!signed) {
        say(false, "Your browser could not verify the checkpoint's signature with the log key.");
        return;
      }
      const path = (el.dataset.path || "").split(" ").filter(Boolean).map(hex);
      const index = Number(el.dataset.index);
      const included = await window.modelkinPolicy.verifyInclusion(leaf, index, note.size, path, note.root);
      say(included, included
        ? "Your browser checked it too: from " + from + ", the " + path.length +
          "-hash audit path leads to the root of the checkpoint the log key signed (tree size " +
          note.size + ")."
        : "Your browser found that the audit path does not lead to the signed root.");
    } catch (e) {
      say(false, "Your browser could not check this proof: " + e.message);
    }
  }

  for (const el of document.querySelectorAll("[data-proof]")) check(el);
})();
