/*
 * Browser-side proof check for modelkin federations (no dependencies; WebCrypto only).
 *
 * window.modelkinPolicy.verifyTlogProof(policy, tlogProofText, entryBytes) resolves to
 *   {ok, origin, size, index, quorum, satisfied, vouchedBy: [witness names], problem}
 * where `policy` is the JSON of GET /api/v1/federation/policy (one Sigsum policy, or a set
 * {"policies": [...]}, one per log), `tlogProofText` a C2SP .tlog-proof (checkpoint with
 * cosignatures) and `entryBytes` a Uint8Array of the logged entry.
 *
 * What it checks is what the Python client checks (modelkin.ledger.policy,
 * modelkin.ledger.merkle): the checkpoint is signed by a policy log key (Ed25519, signed-note
 * key ID = SHA-256(name || "\n" || 0x01 || pub)[:4], the key name being the log's origin for
 * raw Sigsum keys); each policy witness's cosignature/v1 (key ID with 0x04; signed message
 * "cosignature/v1\ntime <t>\n" + body) verifies; the quorum (k-of-n groups) is met; and the
 * RFC 9162 inclusion proof of SHA-256(0x00 || entry) at the index leads to the signed root.
 * Ed25519 in WebCrypto needs a current browser (Chromium 137+, Firefox 129+, Safari 17+).
 */
(function () {
  "use strict";
  const enc = new TextEncoder();

  function b64(s) {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function hex(s) {
    const out = new Uint8Array(s.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
    return out;
  }
  function cat(...parts) {
    const n = parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }
  function eq(a, b) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  async function sha256(data) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  }
  async function keyId(name, alg, pub) {
    return (await sha256(cat(enc.encode(name + "\n"), new Uint8Array([alg]), pub))).slice(0, 4);
  }
  async function ed25519(pub, msg, sig) {
    try {
      const key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
      return await crypto.subtle.verify({ name: "Ed25519" }, key, sig, msg);
    } catch (e) {
      return false;
    }
  }

  /* C2SP signed-note: body (ends in \n), blank line, "— name base64(keyid||sig)" lines. */
  function parseNote(text) {
    const cut = text.lastIndexOf("\n\n");
    if (cut < 0) throw new Error("no blank line before the signatures");
    const body = text.slice(0, cut + 1);
    const sigs = [];
    for (const line of text.slice(cut + 2).split("\n")) {
      if (!line) continue;
      if (!line.startsWith("\u2014 ")) throw new Error("malformed signature line");
      const rest = line.slice(2);
      const sp = rest.indexOf(" ");
      const raw = b64(rest.slice(sp + 1));
      sigs.push({ name: rest.slice(0, sp), keyId: raw.slice(0, 4), sig: raw.slice(4) });
    }
    const lines = body.split("\n");
    if (!/^(0|[1-9][0-9]{0,19})$/.test(lines[1] || "")) throw new Error("bad tree size");
    const size = BigInt(lines[1]);
    if (size > 0xffffffffffffffffn) throw new Error("tree size above 2^64-1");
    return { body, sigs, origin: lines[0], size: Number(size), root: b64(lines[2]) };
  }

  /* RFC 9162 s. 2.1.3.2, with the final sn == 0 check. */
  async function verifyInclusion(leaf, index, size, proof, root) {
    if (index < 0 || index >= size) return false;
    let fn = index, sn = size - 1, r = leaf;
    for (const p of proof) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        r = await sha256(cat(new Uint8Array([1]), p, r));
        if (fn % 2 === 0) while (fn !== 0 && fn % 2 === 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await sha256(cat(new Uint8Array([1]), r, p));
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && eq(r, root);
  }

  function satisfied(pol, vouched, name) {
    if (name === "none") return true;
    const g = (pol.groups || []).find((x) => x.name === name);
    if (!g) return vouched.has(name);
    return g.members.filter((m) => satisfied(pol, vouched, m)).length >= g.threshold;
  }

  /* The policy (of a set) naming the log that signed `note`, and whether it signed. */
  async function logPolicy(policy, note) {
    const pols = policy.policies || [policy];
    for (const pol of pols) {
      for (const log of pol.logs) {
        const name = log.key_name || note.origin;
        if (name !== note.origin) continue;
        const pub = hex(log.public_key);
        const kid = await keyId(name, 0x01, pub);
        for (const s of note.sigs) {
          if (s.name === name && eq(s.keyId, kid) && await ed25519(pub, enc.encode(note.body), s.sig)) {
            return pol;
          }
        }
      }
    }
    return null;
  }

  async function checkCheckpoint(policy, text) {
    const note = parseNote(text);
    const pol = await logPolicy(policy, note);
    const out = { origin: note.origin, size: note.size, root: note.root, quorum: null,
                  satisfied: false, vouchedBy: [], logSigned: pol !== null };
    if (!pol) return out;
    out.quorum = pol.quorum;
    const vouched = new Set();
    for (const w of pol.witnesses) {
      const pub = hex(w.public_key);
      const kid = hex(w.key_id);
      for (const s of note.sigs) {
        if (s.name !== w.key_name || !eq(s.keyId, kid) || s.sig.length !== 72) continue;
        let t = 0n;
        for (let i = 0; i < 8; i++) t = (t << 8n) | BigInt(s.sig[i]);
        const msg = enc.encode("cosignature/v1\ntime " + t.toString() + "\n" + note.body);
        if (await ed25519(pub, msg, s.sig.slice(8))) vouched.add(w.name);
      }
    }
    out.vouchedBy = [...vouched].sort();
    out.satisfied = satisfied(pol, vouched, pol.quorum);
    return out;
  }

  async function verifyTlogProof(policy, text, entry) {
    const cut = text.indexOf("\n\n");
    const head = text.slice(0, cut).split("\n");
    const res = { ok: false, problem: null };
    try {
      if (cut < 0 || head[0] !== "c2sp.org/tlog-proof@v1") throw new Error("not a tlog-proof");
      let pos = 1;
      if (head[pos] && head[pos].startsWith("extra ")) pos++;
      if (!/^index (0|[1-9][0-9]*)$/.test(head[pos] || "")) throw new Error("missing index");
      const index = Number(head[pos].slice(6));
      const proof = head.slice(pos + 1).map(b64);
      const cp = await checkCheckpoint(policy, text.slice(cut + 2));
      Object.assign(res, cp, { index });
      if (!cp.logSigned) throw new Error("checkpoint not signed by a log of the policy");
      if (!cp.satisfied) throw new Error("checkpoint does not satisfy the policy");
      const leaf = await sha256(cat(new Uint8Array([0]), entry));
      if (!await verifyInclusion(leaf, index, cp.size, proof, cp.root)) {
        throw new Error("entry is not included (bad proof)");
      }
      res.ok = true;
    } catch (e) {
      res.problem = e.message;
    }
    return res;
  }

  window.modelkinPolicy = {
    b64, cat, sha256, ed25519, parseNote, checkCheckpoint, verifyInclusion, verifyTlogProof,
  };
})();
