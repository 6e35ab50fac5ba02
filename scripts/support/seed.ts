// Seed data for the scripts that drive the app with many signed-in people (`bun run load`, the
// benchmarks): a practice with a signed BAA and staff members, each with a session and an attested
// draft job of their own (ready for upload URLs), made through the real services and fixtures.
import type { Kysely } from "kysely";
import type { Config } from "../../src/config.ts";
import { attestationStatement } from "../../src/jobs/attestation.ts";
import { attestJob, createJob, type MemberActor } from "../../src/jobs/service.ts";
import type { BlobStore } from "../../src/platform/blob.ts";
import type { Db } from "../../src/platform/db.ts";
import type { TestApp } from "../../tests/support/app.ts";
import { makeSignedPractice } from "../../tests/support/baa.ts";
import { makePerson, type Member, sessionToken } from "../../tests/support/people.ts";

/** What the fixtures use of a test app; a script builds these itself. */
export type SeedDeps = { db: Db; ownerDb: Kysely<any>; blob: BlobStore; config: Config };

export type SeededUser = { userId: string; practiceId: string; token: string; cookie: string; jobId: string; actor: MemberActor };

const JOB_DETAILS = {
  letterType: "practice_closure", mailClass: "first_class", returnName: "Seeded Practice", returnLine1: "1 Main St",
  returnLine2: null, returnCity: "Boston", returnState: "MA", returnZip: "02110",
} as const;

/** Runs make(0…count-1) a few at a time (round trips overlap; the practice's audit chain still takes one writer at a time). */
async function inBatches<T>(count: number, make: (i: number) => Promise<T>, width = 8): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += width) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(width, count - i) }, (_, k) => make(i + k)))));
  }
  return out;
}

/**
 * A signed practice with `staff` staff members, each signed in (second factor passed) with an
 * attested draft job of their own, and `extraJobs` more drafts by the admin (pages to browse).
 */
export async function seedPracticeWithStaff(deps: SeedDeps, options: { name: string; staff: number; extraJobs?: number }): Promise<{ admin: Member; users: SeededUser[]; jobIds: string[] }> {
  const t = deps as unknown as TestApp; // the fixtures read only db, ownerDb, blob and config
  const admin = await makeSignedPractice(t, options.name);
  const seedOne = async (s: number): Promise<SeededUser> => {
    const staff = await makePerson(t, { practiceId: admin.practiceId, role: "staff" });
    const actor: MemberActor = { userId: staff.userId, practiceId: staff.practiceId, role: "staff" };
    const job = await createJob({ db: deps.db }, actor, { title: `Seeded job ${s + 1}`, ...JOB_DETAILS });
    await attestJob({ db: deps.db }, actor, job.id, { statementVersion: attestationStatement().version, confirm: "yes", initials: "SS" });
    const token = await sessionToken(t, staff);
    return { userId: staff.userId, practiceId: staff.practiceId, token, cookie: `__Host-plh_session=${token}`, jobId: job.id, actor };
  };
  const users = await inBatches(options.staff, seedOne);
  const adminActor: MemberActor = { userId: admin.userId, practiceId: admin.practiceId, role: "admin" };
  const extra = await inBatches(options.extraJobs ?? 0, async (j) => (await createJob({ db: deps.db }, adminActor, { title: `Seeded admin job ${j + 1}`, ...JOB_DETAILS })).id);
  return { admin, users, jobIds: [...users.map((u) => u.jobId), ...extra] };
}
