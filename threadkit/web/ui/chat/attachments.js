// Two-phase upload: `attachments.create` declares the file and answers with an
// `upload_descriptor` ({url, method, headers}); the bytes then go to that URL
// (POST: multipart/form-data with a `file` part; PUT: the raw bytes), with progress
// reported from the XMLHttpRequest's upload events.

import { ChatKitError } from './api.js';

function send(descriptor, file, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const method = (descriptor.method || 'POST').toUpperCase();
    xhr.open(method, descriptor.url);
    for (const [name, value] of Object.entries(descriptor.headers || {})) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable && e.total) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve();
        return;
      }
      let message = `The upload failed (${xhr.status}).`;
      try {
        message = JSON.parse(xhr.responseText).error.message || message;
      } catch {
        // not JSON: keep the status
      }
      reject(new ChatKitError(message, { status: xhr.status }));
    });
    xhr.addEventListener('error', () => reject(new ChatKitError('The upload could not reach the server.')));
    xhr.addEventListener('abort', () => reject(new DOMException('The upload was cancelled.', 'AbortError')));
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    if (method === 'PUT') {
      const headers = Object.keys(descriptor.headers || {}).map((k) => k.toLowerCase());
      if (!headers.includes('content-type')) xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
      xhr.send(file);
    } else {
      const form = new FormData();
      form.append('file', file, file.name);
      xhr.send(form);
    }
  });
}

/**
 * Uploads `file` through `client` (a ChatKitClient); `onProgress(fraction)` as bytes
 * go out. Resolves with the attachment (without its upload descriptor).
 */
export async function uploadFile(client, file, onProgress, signal) {
  const created = await client.request('attachments.create', {
    name: file.name,
    size: file.size,
    mime_type: file.type || 'application/octet-stream',
  }, { signal });
  const { upload_descriptor: descriptor, ...attachment } = created;
  if (descriptor?.url) {
    try {
      await send(descriptor, file, onProgress, signal);
    } catch (error) {
      error.attachment = attachment;
      throw error;
    }
  } else {
    onProgress(1);
  }
  return attachment;
}
