// Preloaded by bunfig.toml: these hooks run once for the whole `bun test` run.
import { afterAll, beforeAll } from "bun:test";
import { startTestStack, stopTestStack } from "./stack.ts";

beforeAll(async () => {
  await startTestStack();
}, 120_000);

afterAll(async () => {
  await stopTestStack();
}, 30_000);
