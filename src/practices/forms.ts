// The practice settings forms. The profile form is the BAA wizard's (src/baa/forms.ts: NPI check
// digit, Intl time zones); the letterhead's return address takes the job details' own fields, so
// a return address is checked the same way wherever it is typed.
import { z } from "zod";
import { jobDetailsForm } from "../jobs/forms.ts";

const { returnName, returnLine1, returnLine2, returnCity, returnState, returnZip } = jobDetailsForm.shape;
const optional = z.string().trim().max(100, "Use at most 100 characters").optional().transform((v) => v || null);

export const letterheadForm = z.object({
  returnName, returnLine1, returnLine2, returnCity, returnState, returnZip,
  // The signer new letters start with (each job's letter step can change it): both or neither.
  signerName: optional,
  signerTitle: optional,
}).superRefine((v, ctx) => {
  if (v.signerName && !v.signerTitle) ctx.addIssue({ code: "custom", path: ["signerTitle"], message: "Enter the signer's title too, like “Medical Director”, or clear the name" });
  if (!v.signerName && v.signerTitle) ctx.addIssue({ code: "custom", path: ["signerName"], message: "Enter the signer's name too, or clear the title" });
});
export type LetterheadInput = z.output<typeof letterheadForm>;

export const approvalRuleForm = z.object({ twoPerson: z.enum(["on", "off"]) });
