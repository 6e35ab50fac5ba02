// What the practice letterhead gives a job's letters (pure functions of the rows): the return
// address new jobs start with, the signer new letters start with. The logo prints when the job has
// none of its own. A proof version records all of it as it is when the proof is requested
// (src/proofs/request.ts, copying the logo into the job's storage), and the proof and the print
// file render from that record: a letterhead changed later reaches only later submissions.
import type { Practice } from "../platform/schema.ts";
import type { PracticeLetterhead } from "./repo.ts";

export type { PracticeLetterhead } from "./repo.ts";

/** The letterhead's return address when one is saved, else the practice profile's address. */
export function letterheadReturnAddress(p: Practice, l: PracticeLetterhead | null | undefined) {
  if (l?.return_name) {
    return { name: l.return_name, line1: l.return_line1!, line2: l.return_line2, city: l.return_city!, state: l.return_state!, zip: l.return_zip! };
  }
  return { name: p.dba_name ?? p.legal_name ?? p.name, line1: p.address_line1 ?? "", line2: p.address_line2, city: p.city ?? "", state: p.state ?? "", zip: p.postal_code ?? "" };
}

/** The signer a job's letter starts with: the job's own, else the letterhead's, else nobody yet. */
export function letterSigner(job: { letter_signer_name: string | null; letter_signer_title: string | null }, l: PracticeLetterhead | null | undefined): { name: string; title: string } {
  if (job.letter_signer_name) return { name: job.letter_signer_name, title: job.letter_signer_title ?? "" };
  return { name: l?.signer_name ?? "", title: l?.signer_title ?? "" };
}
