// Dates shown to people, in their practice's time zone. Building an Intl.DateTimeFormat is costly
// (it loads time-zone and locale data) and a page formats many dates in one zone, so each
// (style, zone) pair is built once; zones are validated IANA names, so the cache stays small.
export type DateStyle = "dateTime" | "dateTimeSeconds" | "longDate";

const OPTIONS: Record<DateStyle, Intl.DateTimeFormatOptions> = {
  dateTime: { dateStyle: "medium", timeStyle: "short" },
  dateTimeSeconds: { dateStyle: "medium", timeStyle: "medium" },
  longDate: { dateStyle: "long" },
};
const formats = new Map<string, Intl.DateTimeFormat>();

export function dateFormat(timeZone: string, style: DateStyle): Intl.DateTimeFormat {
  const key = `${style} ${timeZone}`;
  let format = formats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", { timeZone, ...OPTIONS[style] });
    formats.set(key, format);
  }
  return format;
}

/** For a page: the time as text in the zone, and the UTC instant for <time datetime>. */
export function clock(timeZone: string) {
  const format = dateFormat(timeZone, "dateTime");
  return (d: Date | string) => ({ text: format.format(new Date(d)), utc: new Date(d).toISOString() });
}
