// The microphone (16 kHz PCM out) and the speaker (24 kHz PCM in), on AudioWorklets.

const WORKLETS = new URL('./worklets.js', import.meta.url);

export const INPUT_RATE = 16000;
export const OUTPUT_RATE = 24000;

/** The user's microphone, delivering 20 ms of 16-bit PCM at 16 kHz to `onFrame`. */
export class Microphone {
  constructor(onFrame) {
    this.onFrame = onFrame; // (pcm: ArrayBuffer, peak: number) => void
    this.context = null;
    this.stream = null;
  }

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
    });
    this.context = new AudioContext(); // the device's rate; the worklet resamples
    await this.context.audioWorklet.addModule(WORKLETS);
    const source = this.context.createMediaStreamSource(this.stream);
    const capture = new AudioWorkletNode(this.context, 'openlive-capture');
    capture.port.onmessage = ({ data }) => this.onFrame(data.pcm, data.peak);
    source.connect(capture);
    await this.context.resume();
  }

  async stop() {
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    await this.context?.close();
    this.stream = this.context = null;
  }
}

/** The answer's audio, played without gaps; `clear` stops it at once. */
export class Speaker {
  constructor(onReport) {
    this.onReport = onReport; // ({played, queued, dropped} in seconds, gaps) => void
    this.context = null;
    this.node = null;
  }

  async start() {
    this.context = new AudioContext({ sampleRate: OUTPUT_RATE });
    await this.context.audioWorklet.addModule(WORKLETS);
    this.node = new AudioWorkletNode(this.context, 'openlive-playback', {
      numberOfInputs: 0,
      outputChannelCount: [1],
    });
    this.node.port.onmessage = ({ data }) =>
      this.onReport({
        played: data.played / OUTPUT_RATE,
        queued: data.queued / OUTPUT_RATE,
        dropped: data.dropped / OUTPUT_RATE,
        gaps: data.gaps,
      });
    this.node.connect(this.context.destination);
    await this.context.resume();
  }

  /** Queue base64 16-bit PCM at 24 kHz. */
  play(base64) {
    if (!this.node) return;
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const pcm = new Int16Array(bytes.buffer, 0, bytes.length >> 1);
    const samples = new Float32Array(pcm.length);
    for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 0x8000;
    this.node.port.postMessage({ samples }, [samples.buffer]);
  }

  clear() {
    this.node?.port.postMessage({ clear: true });
  }

  /** The answer's last audio has come: running dry from here is its end, not a gap. */
  end() {
    this.node?.port.postMessage({ end: true });
  }

  async stop() {
    await this.context?.close();
    this.context = this.node = null;
  }
}

/** Base64 of an ArrayBuffer. */
export function toBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}
