// Deterministic generator of canonical analysis results for the engine benchmark.
// Same (count, seed) -> same results, byte for byte. No dependency.

/** The benchmark's "now": every age is measured from it. */
export const NOW = Date.parse("2026-11-26T12:00:00Z");

/** The hash the `sanctioned_app` rule allows (a few results carry it: the same file re-analysed). */
export const SANCTIONED_SHA256 = "5ac7a1c2e0b9f4d8a3e6c1b7d2f9e4a8c3b6d1e7f2a9c4b8e3d6f1a7c2e9b4d8";

export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ENGINES = [
  "Bkav",
  "Lionic",
  "Elastic",
  "MicroWorld-eScan",
  "ClamAV",
  "CMC",
  "CAT-QuickHeal",
  "Skyhigh",
  "McAfee",
  "Malwarebytes",
  "Zillya",
  "Sangfor",
  "K7AntiVirus",
  "K7GW",
  "Alibaba",
  "Arcabit",
  "BitDefenderTheta",
  "VirIT",
  "Symantec",
  "tehtris",
  "ESET-NOD32",
  "TrendMicro-HouseCall",
  "Avast",
  "Cynet",
  "Kaspersky",
  "BitDefender",
  "NANO-Antivirus",
  "SUPERAntiSpyware",
  "Tencent",
  "Emsisoft",
  "F-Secure",
  "DrWeb",
  "VIPRE",
  "TrendMicro",
  "SentinelOne",
  "Sophos",
  "Ikarus",
  "Jiangmin",
  "Google",
  "Avira",
  "Varist",
  "Antiy-AVL",
  "Kingsoft",
  "Microsoft",
  "Gridinsoft",
  "Xcitium",
  "ViRobot",
  "ZoneAlarm",
  "GData",
  "Cylance",
  "AhnLab-V3",
  "Acronis",
  "VBA32",
  "ALYac",
  "Panda",
  "Zoner",
  "Rising",
  "Yandex",
  "Fortinet",
  "AVG",
];

const MALWARE_NAMES = [
  "Trojan.GenericKD.#",
  "Gen:Variant.Razy.#",
  "Trojan:Win32/Wacatac.B!ml",
  "Win32/Agent.#",
  "HEUR:Trojan.Win32.Generic",
  "Backdoor.Win32.Agent.#",
  "Trojan.Win32.Crypt.#",
  "W32.AIDetectMalware",
  "Malicious (score: 99)",
  "Trojan-Dropper.Win32.Injector.#",
  "ML.Attribute.HighConfidence",
  "Trojan.Agent.#",
];
const RANSOM_NAMES = [
  "Ransom.WannaCry",
  "Ransom:Win32/LockBit.A",
  "W32.Ransomware.Ryuk",
  "Trojan-Ransom.Win32.Blocker.#",
  "RANSOM.Conti.#",
  "Win32.Ransomware.BlackCat",
];
const SUSPICIOUS_NAMES = [
  "Suspicious.low.ml.score",
  "PUA.Win32.Packer",
  "Riskware/Keygen",
  "Adware.Generic.#",
  "HackTool.Win32.Crack",
  "Generic.Suspicious",
];

const TRUSTED = ["Microsoft Corporation", "Google LLC", "Apple Inc."];
const KNOWN = [
  "Adobe Inc.",
  "Mozilla Corporation",
  "JetBrains s.r.o.",
  "Valve Corp.",
  "Zoom Video Communications, Inc.",
];
const SMALL = [
  "Shenzhen Fast Tools Co., Ltd.",
  "ACME Utilities Ltd",
  "PDF Wizard LLC",
  "Random Games Studio",
  "Nordic Driverworks AB",
  "Tiny Apps OÜ",
  "Freeware Hub",
];

const CATEGORIES = [
  "browser",
  "development tool",
  "utility",
  "game",
  "driver",
  "installer",
  "productivity",
  "media",
  "communication",
];

const NAMES = {
  browser: ["chrome_setup", "FirefoxInstaller", "brave-browser", "opera_gx_setup", "edge_update"],
  "development tool": [
    "vscode-installer",
    "git-2.47-x64",
    "node-v22",
    "idea-2026.2",
    "python-3.13-amd64",
  ],
  utility: ["7z2409-x64", "notepad++_installer", "winrar-x64", "cleaner_pro", "pdf_tool"],
  game: ["steam_setup", "minecraft_launcher", "game_launcher", "FarmSim26_crack", "doom_mod"],
  driver: ["nvidia_driver_566", "realtek_audio", "usb_serial_ch340", "wacom_tablet", "rtl8822_net"],
  installer: ["setup", "install", "update_helper", "bootstrapper", "msi_wrapper"],
  productivity: [
    "office_addin",
    "photoshop_2026",
    "acrobat_reader",
    "slack_setup",
    "Office_KeyGen",
  ],
  media: ["vlc-3.0.21", "audacity-win", "obs-studio", "spotify_setup", "video_converter"],
  communication: [
    "zoom_installer",
    "teams_bootstrap",
    "discord_setup",
    "signal-desktop",
    "skype_update",
  ],
};
const EXTENSIONS = [".exe", ".exe", ".exe", ".dll", ".msi", ".msi", ".scr", ".ps1", ".zip"];
const CONTENT = {
  ".exe": "application/x-msdownload",
  ".dll": "application/x-msdownload",
  ".msi": "application/x-msi",
  ".scr": "application/x-msdownload",
  ".ps1": "text/plain",
  ".zip": "application/zip",
};
const TAGS = [
  "peexe",
  "64bits",
  "overlay",
  "signed",
  "packed",
  "installer",
  "runtime-modules",
  "detect-debug-environment",
  "direct-cpu-clock-access",
  "checks-user-input",
];
const COMPONENTS = [
  ["signature_validity", "Signature validity", 0.3, "Signature state"],
  ["vendor_reputation", "Vendor reputation", 0.25, "Publisher track record"],
  ["software_category", "Software category", 0.15, "Category risk"],
  ["threat_signals", "Threat signals", 0.2, "Engine detections"],
  ["metadata_quality", "Metadata quality", 0.1, "Version info"],
];
const ISSUERS = [
  "DigiCert Trusted G4 Code Signing RSA4096 SHA384 2021 CA1",
  "Sectigo Public Code Signing CA R36",
  "Microsoft Code Signing PCA 2011",
  "GlobalSign GCC R45 EV CodeSigning CA 2020",
];

const DAY = 86_400_000;
const YEAR_START = Date.parse("2026-01-01T00:00:00Z");

function iso(ms) {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/**
 * Generates `count` canonical analysis results of about 4 KB each (as JSON).
 * Three kinds of file (clean, grey, malicious) with realistic noise; about 10% miss optional fields.
 */
export function generateResults(count = 1000, seed = 42) {
  const rnd = mulberry32(seed);
  const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = (arr) => arr[Math.floor(rnd() * arr.length)];
  const chance = (p) => rnd() < p;
  const hex = (n) => {
    let s = "";
    for (let i = 0; i < n; i++) s += "0123456789abcdef"[Math.floor(rnd() * 16)];
    return s;
  };
  const clamp = (v) => Math.max(0, Math.min(100, Math.round(v)));

  const results = [];
  for (let i = 0; i < count; i++) {
    const roll = rnd();
    const kind = roll < 0.5 ? "clean" : roll < 0.75 ? "grey" : "malicious";
    const category =
      kind === "malicious" && chance(0.3)
        ? pick(["game", "utility", "installer"])
        : pick(CATEGORIES);

    // Vendor
    let vendor;
    const vroll = rnd();
    if (kind === "clean") {
      if (vroll < 0.45) vendor = { name: pick(TRUSTED), verified: true };
      else if (vroll < 0.75) vendor = { name: pick(KNOWN), verified: chance(0.85) };
      else if (vroll < 0.93) vendor = { name: pick(SMALL), verified: chance(0.3) };
    } else if (kind === "grey") {
      if (vroll < 0.15) vendor = { name: pick(TRUSTED), verified: true };
      else if (vroll < 0.35) vendor = { name: pick(KNOWN), verified: chance(0.5) };
      else if (vroll < 0.75) vendor = { name: pick(SMALL), verified: chance(0.1) };
    } else if (vroll < 0.08) vendor = { name: pick(TRUSTED), verified: false };
    else if (vroll < 0.5) vendor = { name: pick(SMALL), verified: false };
    if (vendor) {
      vendor.product = `${category} suite`;
      vendor.version = `${int(1, 30)}.${int(0, 9)}.${int(0, 999)}`;
    }

    // Signature
    const sroll = rnd();
    let status;
    if (kind === "clean")
      status =
        sroll < 0.82
          ? "valid"
          : sroll < 0.9
            ? "expired"
            : sroll < 0.95
              ? "unsigned"
              : "self_signed";
    else if (kind === "grey")
      status =
        sroll < 0.35
          ? "valid"
          : sroll < 0.5
            ? "expired"
            : sroll < 0.7
              ? "self_signed"
              : sroll < 0.92
                ? "unsigned"
                : "invalid";
    else
      status =
        sroll < 0.1 ? "valid" : sroll < 0.2 ? "invalid" : sroll < 0.4 ? "self_signed" : "unsigned";
    const signature = { status };
    if (status !== "unsigned") {
      signature.signer = vendor?.name ?? pick(SMALL);
      signature.issuer = status === "self_signed" ? signature.signer : pick(ISSUERS);
      signature.thumbprint = hex(40).toUpperCase();
      signature.signedAt = iso(YEAR_START - int(0, 900) * DAY + int(0, DAY));
    }

    // Score breakdown and trust score (the verdict follows the score)
    const target = kind === "clean" ? int(70, 100) : kind === "grey" ? int(35, 85) : int(0, 55);
    const scoreBreakdown = COMPONENTS.map(([component, label, weight, description]) => ({
      component,
      label,
      weight,
      value: clamp(target + (rnd() - 0.5) * 30),
      description,
    }));
    const trustScore = clamp(scoreBreakdown.reduce((s, c) => s + c.weight * c.value, 0));
    const verdict = trustScore >= 80 ? "clean" : trustScore >= 50 ? "caution" : "high_risk";

    // Engines and detections (counts always follow the engine entries)
    const malicious =
      kind === "clean" ? (chance(0.06) ? 1 : 0) : kind === "grey" ? int(0, 4) : int(2, 30);
    const suspicious =
      kind === "clean" ? (chance(0.1) ? 1 : 0) : kind === "grey" ? int(0, 5) : int(0, 6);
    const ransom = kind === "malicious" && chance(0.25);
    const slots = ENGINES.map((_, k) => k);
    for (let k = slots.length - 1; k > 0; k--) {
      const j = Math.floor(rnd() * (k + 1));
      [slots[k], slots[j]] = [slots[j], slots[k]];
    }
    const cats = new Array(ENGINES.length).fill(null);
    let p = 0;
    for (let k = 0; k < malicious; k++) cats[slots[p++]] = "malicious";
    for (let k = 0; k < suspicious; k++) cats[slots[p++]] = "suspicious";
    const engines = ENGINES.map((engine, k) => {
      let cat = cats[k];
      if (!cat) {
        const r = rnd();
        cat = r < 0.04 ? "failed" : r < 0.09 ? "unsupported" : r < 0.2 ? "harmless" : "undetected";
      }
      let result = null;
      if (cat === "malicious") {
        const name = ransom && chance(0.3) ? pick(RANSOM_NAMES) : pick(MALWARE_NAMES);
        result = name.replace("#", String(int(10_000, 99_999_999)));
      } else if (cat === "suspicious")
        result = pick(SUSPICIOUS_NAMES).replace("#", String(int(100, 9999)));
      return { engine, category: cat, result };
    });
    const detections = {
      malicious: 0,
      suspicious: 0,
      undetected: 0,
      harmless: 0,
      failed: 0,
      unsupported: 0,
    };
    for (const e of engines) detections[e.category]++;

    // File name: category stem, sometimes a "crack"/"keygen" stem, varied extensions
    let stem = pick(NAMES[category]);
    if (kind !== "clean" && chance(0.08))
      stem = pick([
        "Crack_Patch",
        "keygen",
        "KeyGen_v2",
        "photoshop_crack",
        "win_activator_CRACKED",
      ]);
    const ext =
      category === "driver"
        ? pick([".sys.zip", ".exe", ".dll", ".msi"])
        : category === "installer"
          ? pick([".msi", ".exe", ".exe", ".ps1"])
          : pick(EXTENSIONS);
    const fileName = `${stem}${ext}`;

    // Timestamps: a share first seen within the last 24 h
    const firstSeen = chance(0.07)
      ? NOW - int(1800, 23 * 3600) * 1000
      : NOW - int(2 * DAY, NOW - YEAR_START - DAY);
    const analyzedAt = firstSeen + Math.floor(rnd() * (NOW - firstSeen));

    const tags = [];
    for (const t of TAGS) if (chance(0.25)) tags.push(t);
    if ((kind === "grey" && chance(0.15)) || (kind === "clean" && chance(0.02))) tags.push("pua");

    let sha256 = hex(64);
    if (kind === "clean" && chance(0.02)) sha256 = SANCTIONED_SHA256;

    const r = {
      sha256,
      fileName,
      fileSize: int(12_000, 250_000_000),
      contentType: CONTENT[ext] ?? "application/zip",
      category,
      trustScore,
      verdict,
      scoreBreakdown,
      detections,
      engines,
      vendor,
      signature,
      firstSeen: iso(firstSeen),
      analyzedAt: iso(analyzedAt),
      tags,
    };
    if (!vendor) delete r.vendor;

    // About 10% miss some optional fields (fileName is always present: the upload API requires it)
    if (chance(0.1)) {
      const optional = [
        "vendor",
        "signature",
        "firstSeen",
        "tags",
        "category",
        "scoreBreakdown",
        "detections",
        "score",
        "vendorName",
        "vendorVerified",
        "contentType",
      ];
      const drops = int(1, 3);
      for (let k = 0; k < drops; k++) {
        const f = pick(optional);
        if (f === "score") {
          delete r.trustScore;
          delete r.verdict;
        } else if (f === "vendorName") delete r.vendor?.name;
        else if (f === "vendorVerified") delete r.vendor?.verified;
        else delete r[f];
      }
    }
    // As a caller gets it: parsed from JSON (no objects left in dictionary mode by `delete`)
    results.push(JSON.parse(JSON.stringify(r)));
  }
  return results;
}

/**
 * The known-bad hash list: `size` hashes, including the hashes of about 4% of `results`
 * (mostly malicious ones, a few clean-looking), the rest random.
 */
export function knownBadHashes(results, size = 10_000, seed = 7) {
  const rnd = mulberry32(seed);
  const list = [];
  for (const r of results) {
    const p = r.verdict === "high_risk" ? 0.1 : 0.015;
    if (rnd() < p && r.sha256 !== SANCTIONED_SHA256) list.push(r.sha256);
  }
  while (list.length < size) {
    let s = "";
    for (let i = 0; i < 64; i++) s += "0123456789abcdef"[Math.floor(rnd() * 16)];
    list.push(s);
  }
  // Deterministic shuffle so the matching hashes are spread through the file
  for (let k = list.length - 1; k > 0; k--) {
    const j = Math.floor(rnd() * (k + 1));
    [list[k], list[j]] = [list[j], list[k]];
  }
  return list;
}
