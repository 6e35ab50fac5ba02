// The pixel size of a PNG or JPEG, read from its header without decoding it. A small file can
// declare a huge image (a 20,000 × 20,000 PNG of one colour compresses to a few KB) that pdfkit
// would inflate into memory at render time; logos and signature images are refused above
// MAX_IMAGE_SIDE pixels on either side, when they are uploaded and again before a render.

/** The largest width or height, in pixels, of a logo or signature image. */
export const MAX_IMAGE_SIDE = 4000;

export type ImageSize = { width: number; height: number };

/** Width and height from a PNG's IHDR or a JPEG's first start-of-frame marker; null when unreadable. */
export function imageSize(bytes: Uint8Array): ImageSize | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // PNG: signature (8), then the IHDR chunk: length (4), "IHDR" (4), width (4), height (4).
  if (bytes.length >= 24 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    if (String.fromCharCode(...bytes.subarray(12, 16)) !== "IHDR") return null;
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  // JPEG: walk the markers after SOI until a start-of-frame (SOF0-SOF15 but DHT C4, JPG C8, DAC CC).
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    let at = 2;
    while (at + 4 <= bytes.length) {
      if (bytes[at] !== 0xff) return null;
      const marker = bytes[at + 1]!;
      if (marker === 0xff) { at++; continue; } // fill byte
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { at += 2; continue; } // no length
      if (marker === 0xd9 || marker === 0xda) return null; // end of image or scan data before any frame
      const length = view.getUint16(at + 2);
      if (length < 2) return null;
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        if (at + 9 > bytes.length) return null;
        return { height: view.getUint16(at + 5), width: view.getUint16(at + 7) };
      }
      at += 2 + length;
    }
  }
  return null;
}

/** Why an image is too big in pixels to print, in words (null when it is fine or not an image we read). */
export function imageSizeProblem(bytes: Uint8Array, what = "The image"): string | null {
  const size = imageSize(bytes);
  if (!size) return `${what} could not be read: is it a complete PNG or JPEG file?`;
  if (size.width === 0 || size.height === 0) return `${what} has no pixels (${size.width} × ${size.height}).`;
  if (size.width > MAX_IMAGE_SIDE || size.height > MAX_IMAGE_SIDE) {
    return `${what} is ${size.width} × ${size.height} pixels; the limit is ${MAX_IMAGE_SIDE} × ${MAX_IMAGE_SIDE}. Save a smaller copy (a letterhead logo needs no more than about 1200 pixels wide) and upload that.`;
  }
  return null;
}
