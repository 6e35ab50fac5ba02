// Business Associate Agreements: the practice profile the agreement names, the published BAA
// versions (text + SHA-256 + effective date, immutable), the append-only signature records, and
// the gate the jobs migration's triggers call: practice_has_current_baa(practice) and
// require_current_baa(practice). Seeds version 1. Frozen in time: never import app code.
import { type Kysely, sql } from "kysely";

// Version 1, as published on 2026-11-01. ASCII only, so the on-screen text, the PDF and the
// SHA-256 (over the UTF-8 bytes) agree everywhere.
const BAA_V1 = `# Business Associate Agreement

This Business Associate Agreement (the "Agreement") is entered into between the medical practice identified in the signature block of this Agreement ("Covered Entity") and PatientLetterHub ("Business Associate"), each a "Party". It takes effect on the date Covered Entity signs it (the "Effective Date").

Covered Entity uses Business Associate's hosted service to prepare, proof, print and mail letters to its patients (the "Services"). In providing the Services, Business Associate creates, receives, maintains or transmits Protected Health Information on behalf of Covered Entity. The Parties enter into this Agreement to comply with the Health Insurance Portability and Accountability Act of 1996, the Health Information Technology for Economic and Clinical Health Act, and their implementing regulations at 45 C.F.R. Parts 160 and 164 (together, "HIPAA"), including 45 C.F.R. 164.314(a), 164.502(e) and 164.504(e).

## 1. Definitions

1.1 Terms used but not defined in this Agreement, such as Breach, Data Aggregation, Designated Record Set, Disclosure, Health Care Operations, Individual, Minimum Necessary, Required By Law, Secretary, Security Incident, Subcontractor, Unsecured Protected Health Information and Use, have the meanings given to them in HIPAA.

1.2 "Protected Health Information" or "PHI" has the meaning given in 45 C.F.R. 160.103, limited to the information created, received, maintained or transmitted by Business Associate on behalf of Covered Entity. "Electronic Protected Health Information" or "ePHI" means PHI that is transmitted or maintained in electronic media.

1.3 "Secretary" means the Secretary of the U.S. Department of Health and Human Services ("HHS") or the Secretary's designee.

## 2. Permitted Uses and Disclosures

2.1 Services. Business Associate may Use and Disclose PHI only as necessary to perform the Services for Covered Entity as described in this Agreement and in the PatientLetterHub terms of service, provided that such Use or Disclosure would not violate Subpart E of 45 C.F.R. Part 164 if done by Covered Entity.

2.2 Minimum Necessary. Business Associate will request, Use and Disclose only the minimum PHI necessary to accomplish the intended purpose, in accordance with 45 C.F.R. 164.502(b) and 164.514(d) and Covered Entity's minimum necessary policies communicated to Business Associate in writing.

2.3 Management and Administration. Business Associate may Use PHI for its proper management and administration or to carry out its legal responsibilities. Business Associate may Disclose PHI for those purposes only if the Disclosure is Required By Law, or if Business Associate obtains reasonable written assurances from the recipient that the PHI will be held confidentially, Used or further Disclosed only as Required By Law or for the purpose for which it was Disclosed to the recipient, and that the recipient will notify Business Associate of any instance of which it is aware in which the confidentiality of the PHI has been breached.

2.4 Prohibited Uses. Business Associate will not Use or Disclose PHI other than as permitted or required by this Agreement or as Required By Law. Business Associate will not sell PHI, will not Use or Disclose PHI for marketing or fundraising, and will not de-identify PHI or Use it for Data Aggregation services except as Covered Entity directs in writing.

2.5 Covered Entity's Obligations. Covered Entity will not ask Business Associate to Use or Disclose PHI in any manner that would not be permissible under Subpart E of 45 C.F.R. Part 164 if done by Covered Entity. Covered Entity will notify Business Associate of any limitation in its notice of privacy practices, any change in or revocation of an Individual's permission, and any restriction on the Use or Disclosure of PHI that Covered Entity has agreed to, to the extent that such limitation, change or restriction may affect Business Associate's Use or Disclosure of PHI. Covered Entity will upload only the PHI needed to produce its letters.

## 3. Safeguards

3.1 Business Associate will use appropriate administrative, physical and technical safeguards, and comply with Subpart C of 45 C.F.R. Part 164 with respect to ePHI, to prevent Use or Disclosure of PHI other than as provided for by this Agreement.

3.2 Without limiting Section 3.1, Business Associate will: encrypt ePHI in transit using current TLS and at rest; keep PHI uploaded by Covered Entity in private storage that is not reachable without short-lived, individually signed authorization; restrict access to PHI to workforce members who need it to perform the Services; require multi-factor authentication for every user of the Services; keep an append-only, tamper-evident audit trail of access to PHI; and maintain written security policies, risk analyses and workforce training as required by 45 C.F.R. 164.308 through 164.316.

3.3 To the extent Business Associate carries out any of Covered Entity's obligations under Subpart E of 45 C.F.R. Part 164, Business Associate will comply with the requirements of Subpart E that apply to Covered Entity in the performance of those obligations.

## 4. Reporting of Improper Use or Disclosure, Security Incidents and Breaches

4.1 Business Associate will report to Covered Entity any Use or Disclosure of PHI not provided for by this Agreement of which it becomes aware, and any Security Incident of which it becomes aware, including any Breach of Unsecured Protected Health Information as required by 45 C.F.R. 164.410.

4.2 Business Associate will notify Covered Entity of a Breach of Unsecured Protected Health Information without unreasonable delay and in no case later than ten (10) business days after discovery of the Breach, which is earlier than the sixty (60) calendar days allowed by 45 C.F.R. 164.410(b). The notice will include, to the extent possible, the identification of each Individual whose Unsecured Protected Health Information has been, or is reasonably believed to have been, accessed, acquired, Used or Disclosed, and any other information Covered Entity needs to notify Individuals under 45 C.F.R. 164.404(c), supplemented as the information becomes available.

4.3 The Parties agree that this Section constitutes notice by Business Associate of the ongoing existence of unsuccessful Security Incidents, such as pings, port scans, denied log-in attempts and denial-of-service attempts that do not result in unauthorized access, Use or Disclosure of ePHI, for which no further notice is required.

4.4 Business Associate will mitigate, to the extent practicable, any harmful effect that is known to Business Associate of a Use or Disclosure of PHI by Business Associate in violation of this Agreement. Business Associate will reimburse Covered Entity for the reasonable costs of notifying Individuals of a Breach caused by Business Associate or its Subcontractors.

## 5. Subcontractors

5.1 In accordance with 45 C.F.R. 164.502(e)(1)(ii) and 164.308(b)(2), Business Associate will ensure that any Subcontractor that creates, receives, maintains or transmits PHI on behalf of Business Associate, including its cloud hosting, storage, printing and mailing providers, agrees in writing to the same restrictions, conditions and requirements that apply to Business Associate with respect to such PHI.

5.2 Business Associate will keep a current list of its Subcontractors that handle PHI and make it available to Covered Entity on request. Business Associate remains responsible to Covered Entity for the acts and omissions of its Subcontractors with respect to PHI.

## 6. Individual Rights: Access, Amendment and Accounting

6.1 Access. To the extent Business Associate maintains PHI in a Designated Record Set, Business Associate will make that PHI available to Covered Entity within ten (10) business days of Covered Entity's request so that Covered Entity can meet its obligations under 45 C.F.R. 164.524, including providing it in electronic form where requested.

6.2 Amendment. To the extent Business Associate maintains PHI in a Designated Record Set, Business Associate will make any amendment to that PHI that Covered Entity directs or agrees to under 45 C.F.R. 164.526, within ten (10) business days of Covered Entity's request.

6.3 Accounting of Disclosures. Business Associate will document Disclosures of PHI and the information related to them that Covered Entity needs to respond to a request by an Individual for an accounting of Disclosures under 45 C.F.R. 164.528, and will provide that information to Covered Entity within ten (10) business days of Covered Entity's request.

6.4 Requests Received Directly. If an Individual asks Business Associate directly for access to, amendment of, or an accounting of Disclosures of PHI, Business Associate will forward the request to Covered Entity within five (5) business days and will not respond to the Individual except as Covered Entity directs.

## 7. Access by the Secretary

7.1 Business Associate will make its internal practices, books and records relating to the Use and Disclosure of PHI received from, or created or received by Business Associate on behalf of, Covered Entity available to the Secretary for purposes of determining Covered Entity's and Business Associate's compliance with HIPAA. Unless prohibited by law, Business Associate will promptly notify Covered Entity of any such request from the Secretary.

## 8. Term and Termination

8.1 Term. This Agreement begins on the Effective Date and continues until all PHI provided by Covered Entity to Business Associate, or created or received by Business Associate on behalf of Covered Entity, is returned or destroyed as provided in Section 9, or until this Agreement is replaced by a later version signed by Covered Entity.

8.2 Termination for Cause by Covered Entity. If Covered Entity knows of a pattern of activity or practice of Business Associate that constitutes a material breach or violation of this Agreement, Covered Entity will give Business Associate written notice and thirty (30) days to cure the breach or end the violation. If Business Associate does not cure the breach or end the violation within that time, Covered Entity may terminate this Agreement and the Services. If cure is not possible, Covered Entity may terminate immediately.

8.3 Termination for Cause by Business Associate. If Business Associate knows of a pattern of activity or practice of Covered Entity that constitutes a material breach or violation of Covered Entity's obligations under this Agreement, Business Associate will give Covered Entity written notice and thirty (30) days to cure, after which Business Associate may terminate this Agreement and the Services if the breach or violation continues.

8.4 Termination of the Services. This Agreement terminates automatically when the Services end, subject to Section 9.

## 9. Return or Destruction of PHI at Termination

9.1 Upon termination of this Agreement for any reason, Business Associate will return to Covered Entity or destroy all PHI received from Covered Entity, or created, maintained or received by Business Associate on behalf of Covered Entity, that Business Associate still maintains in any form, and will retain no copies. This applies equally to PHI in the possession of Business Associate's Subcontractors. In the ordinary course, Business Associate deletes recipient lists, letter files and proofs thirty (30) days after the related mailing job is completed or cancelled.

9.2 If Business Associate determines that returning or destroying PHI is infeasible, it will notify Covered Entity of the conditions that make return or destruction infeasible, extend the protections of this Agreement to that PHI, and limit further Uses and Disclosures to those purposes that make return or destruction infeasible, for so long as Business Associate maintains the PHI. The audit trail of access to PHI, which contains no PHI, and the signed record of this Agreement are retained as required by law.

## 10. Miscellaneous

10.1 Regulatory References. A reference in this Agreement to a section of HIPAA means the section as in effect or as amended.

10.2 Amendment. The Parties will amend this Agreement as necessary for compliance with HIPAA. Business Associate may publish a new version of this Agreement; Covered Entity must sign the new version before uploading further PHI, and mailing jobs already in progress continue under the version in effect when they began.

10.3 Survival. The obligations of Business Associate under Section 9 survive the termination of this Agreement.

10.4 Interpretation. Any ambiguity in this Agreement will be resolved to permit compliance with HIPAA. If this Agreement conflicts with the PatientLetterHub terms of service, this Agreement controls with respect to PHI.

10.5 No Third-Party Beneficiaries. Nothing in this Agreement confers any rights or remedies on any person other than the Parties and their respective successors and permitted assigns.

10.6 Electronic Signature. The Parties agree that this Agreement may be signed electronically, that an electronic signature has the same effect as a handwritten signature, and that the executed electronic record, together with its certificate of signature, is an original of this Agreement.
`;

export async function up(db: Kysely<any>): Promise<void> {
  // ---- the practice profile named in the agreement ------------------------------------------
  await sql`
    ALTER TABLE practices
      ADD COLUMN legal_name text CHECK (length(btrim(legal_name)) BETWEEN 1 AND 200),
      ADD COLUMN dba_name text CHECK (length(btrim(dba_name)) BETWEEN 1 AND 200),
      ADD COLUMN address_line1 text CHECK (length(btrim(address_line1)) BETWEEN 1 AND 200),
      ADD COLUMN address_line2 text CHECK (length(btrim(address_line2)) BETWEEN 1 AND 200),
      ADD COLUMN city text CHECK (length(btrim(city)) BETWEEN 1 AND 100),
      ADD COLUMN state text CHECK (state ~ '^[A-Z]{2}$'),
      ADD COLUMN postal_code text CHECK (postal_code ~ '^[0-9]{5}(-[0-9]{4})?$'),
      ADD COLUMN phone text CHECK (phone ~ '^[0-9]{10}$'),
      ADD COLUMN npi text CHECK (npi ~ '^[0-9]{10}$'),
      ADD COLUMN privacy_officer_name text CHECK (length(btrim(privacy_officer_name)) BETWEEN 1 AND 200),
      ADD COLUMN privacy_officer_email text CHECK (privacy_officer_email = lower(privacy_officer_email) AND length(privacy_officer_email) BETWEEN 3 AND 254),
      ADD COLUMN profile_completed_at timestamptz`.execute(db);

  // ---- BAA versions: platform-wide, published only by the owner (bun run baa:publish) -------
  await sql`
    CREATE TABLE baa_versions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      version integer NOT NULL UNIQUE CHECK (version > 0),
      title text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
      body text NOT NULL CHECK (length(body) BETWEEN 1000 AND 200000),
      sha256 text NOT NULL UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      effective_at timestamptz NOT NULL,
      published_at timestamptz NOT NULL DEFAULT now(),
      published_by text NOT NULL CHECK (length(published_by) BETWEEN 1 AND 200),
      -- The stored hash is the hash of the stored text, whoever inserts it.
      CHECK (sha256 = encode(sha256(convert_to(body, 'UTF8')), 'hex'))
    )`.execute(db);
  await sql`CREATE INDEX baa_versions_effective ON baa_versions (effective_at DESC, version DESC)`.execute(db);
  await sql`GRANT SELECT ON baa_versions TO plh_app`.execute(db);

  // Published versions and signatures are evidence: nobody changes or removes them, the owner included.
  await sql`
    CREATE FUNCTION baa_refuse_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN
      RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$`.execute(db);
  await sql`CREATE TRIGGER baa_versions_no_change BEFORE UPDATE OR DELETE ON baa_versions FOR EACH ROW EXECUTE FUNCTION baa_refuse_change()`.execute(db);
  await sql`CREATE TRIGGER baa_versions_no_truncate BEFORE TRUNCATE ON baa_versions FOR EACH STATEMENT EXECUTE FUNCTION baa_refuse_change()`.execute(db);

  // The version in force now: the latest whose effective date has come.
  await sql`
    CREATE FUNCTION current_baa_version_id() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT id FROM baa_versions WHERE effective_at <= now() ORDER BY effective_at DESC, version DESC LIMIT 1 $$`.execute(db);

  // ---- signatures: one per practice and version, append-only --------------------------------
  await sql`
    CREATE TABLE baa_signatures (
      id uuid PRIMARY KEY,
      practice_id uuid NOT NULL REFERENCES practices (id),
      baa_version_id uuid NOT NULL REFERENCES baa_versions (id),
      baa_version integer NOT NULL,
      baa_sha256 text NOT NULL CHECK (baa_sha256 ~ '^[0-9a-f]{64}$'),
      signer_user_id uuid NOT NULL REFERENCES users (id),
      signer_email text NOT NULL CHECK (length(signer_email) BETWEEN 3 AND 254),
      signer_account_name text NOT NULL CHECK (length(btrim(signer_account_name)) BETWEEN 1 AND 200),
      typed_name text NOT NULL CHECK (length(btrim(typed_name)) BETWEEN 2 AND 200),
      signer_title text NOT NULL CHECK (length(btrim(signer_title)) BETWEEN 1 AND 200),
      authority_statement text NOT NULL CHECK (length(authority_statement) BETWEEN 1 AND 1000),
      consent_text text NOT NULL CHECK (length(consent_text) BETWEEN 1 AND 4000),
      practice_legal_name text NOT NULL CHECK (length(btrim(practice_legal_name)) BETWEEN 1 AND 200),
      practice_address text NOT NULL CHECK (length(practice_address) BETWEEN 1 AND 1000),
      signed_at timestamptz NOT NULL DEFAULT now(),
      ip text CHECK (length(ip) <= 64),
      user_agent text CHECK (length(user_agent) <= 512),
      session_id uuid NOT NULL,
      verification_id text NOT NULL UNIQUE CHECK (verification_id ~ '^BAA-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$'),
      evidence_sha256 text NOT NULL CHECK (evidence_sha256 ~ '^[0-9a-f]{64}$'),
      pdf_blob text NOT NULL UNIQUE CHECK (pdf_blob = 'practices/' || practice_id || '/baa/' || id || '.pdf'),
      pdf_sha256 text NOT NULL CHECK (pdf_sha256 ~ '^[0-9a-f]{64}$'),
      pdf_bytes integer NOT NULL CHECK (pdf_bytes > 0),
      UNIQUE (practice_id, baa_version_id)
    )`.execute(db);
  await sql`CREATE INDEX baa_signatures_practice ON baa_signatures (practice_id, signed_at DESC)`.execute(db);
  await sql`ALTER TABLE baa_signatures ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE baa_signatures FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`
    CREATE POLICY baa_signatures_tenant ON baa_signatures
      USING (practice_id = app_current_practice())
      WITH CHECK (practice_id = app_current_practice())`.execute(db);
  await sql`GRANT SELECT, INSERT ON baa_signatures TO plh_app`.execute(db);
  await sql`CREATE TRIGGER baa_signatures_no_change BEFORE UPDATE OR DELETE ON baa_signatures FOR EACH ROW EXECUTE FUNCTION baa_refuse_change()`.execute(db);
  await sql`CREATE TRIGGER baa_signatures_no_truncate BEFORE TRUNCATE ON baa_signatures FOR EACH STATEMENT EXECUTE FUNCTION baa_refuse_change()`.execute(db);

  // A signature names the version in force, with that version's number and hash, and is made by
  // an administrator of the practice: whatever the application does.
  await sql`
    CREATE FUNCTION baa_signatures_check() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    DECLARE
      v baa_versions%ROWTYPE;
    BEGIN
      SELECT * INTO v FROM baa_versions WHERE id = NEW.baa_version_id;
      IF v.id IS DISTINCT FROM current_baa_version_id() THEN
        RAISE EXCEPTION 'only the BAA version in force can be signed' USING ERRCODE = 'check_violation';
      END IF;
      IF NEW.baa_version <> v.version OR NEW.baa_sha256 <> v.sha256 THEN
        RAISE EXCEPTION 'signature names a different BAA text than its version' USING ERRCODE = 'check_violation';
      END IF;
      IF NOT EXISTS (SELECT 1 FROM memberships m WHERE m.practice_id = NEW.practice_id AND m.user_id = NEW.signer_user_id AND m.role = 'admin') THEN
        RAISE EXCEPTION 'only an administrator of the practice can sign its BAA' USING ERRCODE = 'check_violation';
      END IF;
      RETURN NEW;
    END $$`.execute(db);
  await sql`CREATE TRIGGER baa_signatures_check BEFORE INSERT ON baa_signatures FOR EACH ROW EXECUTE FUNCTION baa_signatures_check()`.execute(db);

  // ---- the gate -------------------------------------------------------------------------------
  // True when the practice has signed the version in force. SECURITY INVOKER: under the app role
  // it sees signatures only inside the practice's own tenant context (elsewhere: false, fail closed).
  await sql`
    CREATE FUNCTION practice_has_current_baa(practice uuid) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$
      SELECT EXISTS (
        SELECT 1 FROM baa_signatures s
        WHERE s.practice_id = practice AND s.baa_version_id = current_baa_version_id()
      )
    $$`.execute(db);
  // For triggers (jobs, uploads): raises SQLSTATE BAA01 unless the practice has an executed current BAA.
  await sql`
    CREATE FUNCTION require_current_baa(practice uuid) RETURNS void
    LANGUAGE plpgsql STABLE
    AS $$ BEGIN
      IF NOT practice_has_current_baa(practice) THEN
        RAISE EXCEPTION 'practice % has no executed current Business Associate Agreement', practice
          USING ERRCODE = 'BAA01', HINT = 'An administrator must sign the current BAA at /baa.';
      END IF;
    END $$`.execute(db);
  await sql`REVOKE ALL ON FUNCTION current_baa_version_id(), practice_has_current_baa(uuid), require_current_baa(uuid) FROM PUBLIC`.execute(db);
  await sql`GRANT EXECUTE ON FUNCTION current_baa_version_id(), practice_has_current_baa(uuid), require_current_baa(uuid) TO plh_app`.execute(db);

  // ---- version 1 --------------------------------------------------------------------------------
  await sql`
    INSERT INTO baa_versions (version, title, body, sha256, effective_at, published_by)
    VALUES (1, 'Business Associate Agreement', ${BAA_V1}, encode(sha256(convert_to(${BAA_V1}::text, 'UTF8')), 'hex'),
            '2026-11-01T00:00:00Z', 'migration:202611232200_baa')`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  const { rows } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM baa_signatures`.execute(db);
  if (rows[0] && rows[0].n !== "0") throw new Error(`refusing to drop baa_signatures: it holds ${rows[0].n} signatures`);
  await sql`DROP FUNCTION require_current_baa(uuid)`.execute(db);
  await sql`DROP FUNCTION practice_has_current_baa(uuid)`.execute(db);
  await sql`DROP TABLE baa_signatures`.execute(db);
  await sql`DROP FUNCTION baa_signatures_check()`.execute(db);
  await sql`DROP FUNCTION current_baa_version_id()`.execute(db);
  await sql`DROP TABLE baa_versions`.execute(db);
  await sql`DROP FUNCTION baa_refuse_change()`.execute(db);
  await sql`
    ALTER TABLE practices
      DROP COLUMN legal_name, DROP COLUMN dba_name, DROP COLUMN address_line1, DROP COLUMN address_line2,
      DROP COLUMN city, DROP COLUMN state, DROP COLUMN postal_code, DROP COLUMN phone, DROP COLUMN npi,
      DROP COLUMN privacy_officer_name, DROP COLUMN privacy_officer_email, DROP COLUMN profile_completed_at`.execute(db);
}
