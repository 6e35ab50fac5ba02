// Runs before `bun test`: browser tests drive Debian's Chromium at /usr/bin/chromium and never
// download a browser. On a fresh Debian machine, as root, install it; otherwise say how.
import { existsSync } from "node:fs";

export const CHROMIUM = "/usr/bin/chromium";

if (!existsSync(CHROMIUM)) {
  const canInstall = process.getuid?.() === 0 && existsSync("/usr/bin/apt-get");
  if (!canInstall) {
    console.error(`Browser tests need Chromium at ${CHROMIUM}. Install Debian's package: sudo apt-get update && sudo apt-get install -y chromium`);
    process.exit(1);
  }
  console.log(`Chromium is missing: installing Debian's chromium package (apt-get)…`);
  for (const args of [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]]) {
    const step = Bun.spawnSync(args, { stdout: "inherit", stderr: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    if (step.exitCode !== 0) {
      console.error(`"${args.join(" ")}" failed (exit ${step.exitCode}).`);
      process.exit(1);
    }
  }
}
