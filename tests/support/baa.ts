// A practice that has signed the BAA in force, through the real BAA services (profile, then sign),
// for tests about what comes after the gate.
import { saveProfile, signBaa } from "../../src/baa/service.ts";
import type { TestApp } from "./app.ts";
import { makePerson, type Member } from "./people.ts";

const REQUEST = { requestId: "test-baa-0001", ip: "127.0.0.1", userAgent: "test" };

export const TEST_PROFILE = {
  legalName: "Riverbend Family Medicine, P.C.", dbaName: null, addressLine1: "12 Main Street", addressLine2: null, city: "Springfield",
  state: "MA", postalCode: "01103", phone: "4135550100", npi: null, privacyOfficerName: "Pat Privacy", privacyOfficerEmail: "privacy@riverbend.example",
  timeZone: "America/New_York",
};

/** Signs the current BAA for the admin's practice. */
export async function signCurrentBaa(t: TestApp, admin: Member): Promise<void> {
  const actor = { userId: admin.userId, practiceId: admin.practiceId, sessionId: crypto.randomUUID() };
  await saveProfile({ db: t.db }, actor, TEST_PROFILE, REQUEST);
  const version = await t.ownerDb.selectFrom("baa_versions").select("id").where("effective_at", "<=", new Date()).orderBy("effective_at", "desc").orderBy("version", "desc").executeTakeFirstOrThrow();
  await signBaa({ db: t.db, blob: t.blob, config: t.config }, actor, {
    versionId: version.id, typedName: "Avery Admin", title: "Practice Administrator", authorized: "yes", consent: "yes",
  }, REQUEST);
}

/** A new practice with its admin, BAA signed. */
export async function makeSignedPractice(t: TestApp, practiceName = "Signed Practice"): Promise<Member> {
  const admin = await makePerson(t, { practiceName });
  await signCurrentBaa(t, admin);
  return admin;
}

/** A signed practice with its admin, a staff member and an auditor, and a second signed practice. */
export async function signedTeams(t: TestApp, practiceName: string) {
  const admin = await makeSignedPractice(t, practiceName);
  const staff = await makePerson(t, { practiceId: admin.practiceId, role: "staff" });
  const auditor = await makePerson(t, { practiceId: admin.practiceId, role: "auditor" });
  const otherAdmin = await makeSignedPractice(t, "Other Clinic");
  return { admin, staff, auditor, otherAdmin };
}
