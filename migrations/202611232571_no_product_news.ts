// Product news is no longer an email category: nothing ever sent it, and the preferences page must
// not offer what the product does not do (issue 9 review). Stored choices for it are deleted and the
// category check allows only the weekly job summary. Frozen in time: never import app code.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`DELETE FROM email_preferences WHERE category = 'product_news'`.execute(db);
  await sql`ALTER TABLE email_preferences DROP CONSTRAINT email_preferences_category_check`.execute(db);
  await sql`ALTER TABLE email_preferences ADD CONSTRAINT email_preferences_category_check CHECK (category IN ('job_summary'))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE email_preferences DROP CONSTRAINT email_preferences_category_check`.execute(db);
  await sql`ALTER TABLE email_preferences ADD CONSTRAINT email_preferences_category_check CHECK (category IN ('product_news', 'job_summary'))`.execute(db);
}
