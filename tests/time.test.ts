import { expect, test } from "bun:test";
import { clock, dateFormat } from "../src/platform/time.ts";

test("dates read in the practice's time zone, with the UTC instant beside them", () => {
  const at = new Date("2026-11-23T02:30:00Z");
  expect(clock("America/Chicago")(at)).toEqual({ text: "Nov 22, 2026, 8:30 PM", utc: "2026-11-23T02:30:00.000Z" });
  expect(clock("Europe/Berlin")(at.toISOString()).text).toBe("Nov 23, 2026, 3:30 AM");
  expect(dateFormat("America/New_York", "longDate").format(at)).toBe("November 22, 2026");
  expect(dateFormat("UTC", "dateTimeSeconds").format(at)).toBe("Nov 23, 2026, 2:30:00 AM");
});

test("each zone and style is built once and reused", () => {
  expect(dateFormat("Pacific/Honolulu", "dateTime")).toBe(dateFormat("Pacific/Honolulu", "dateTime"));
  expect(dateFormat("Pacific/Honolulu", "dateTime")).not.toBe(dateFormat("Pacific/Honolulu", "longDate"));
});
