// The playground's two AudioWorklet processors: the microphone in, the answer out.

// Microphone: the context's rate down to 16 kHz, sent on as 20 ms of 16-bit PCM.
// Each output sample is the mean of the input samples in its interval, which is a
// low-pass filter good enough for speech on the way down.
class Capture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / 16000; // input samples per output sample
    this.position = 0; // where the next output sample ends, in input samples
    this.sum = 0;
    this.count = 0;
    this.frame = new Int16Array(320);
    this.filled = 0;
    this.peak = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      this.sum += channel[i];
      this.count++;
      this.position += 1;
      if (this.position >= this.step) {
        this.position -= this.step;
        const value = Math.max(-1, Math.min(1, this.sum / this.count));
        this.peak = Math.max(this.peak, Math.abs(value));
        this.frame[this.filled++] = value < 0 ? value * 0x8000 : value * 0x7fff;
        this.sum = 0;
        this.count = 0;
        if (this.filled === this.frame.length) {
          this.port.postMessage({ pcm: this.frame.buffer, peak: this.peak }, [this.frame.buffer]);
          this.frame = new Int16Array(320);
          this.filled = 0;
          this.peak = 0;
        }
      }
    }
    return true;
  }
}

// Answer audio: a queue of samples at the context's rate (24 kHz, the rate the
// server sends), played back to back, silence when it runs dry. `clear` drops what
// is queued at once (barge-in); `end` says the answer's last audio has come. Running
// dry in the middle of an answer (before `end`) is a gap the listener hears: counted.
// Reports what it played, about ten times a second.
class Playback extends AudioWorkletProcessor {
  constructor() {
    super();
    this.chunks = [];
    this.offset = 0; // into chunks[0]
    this.queued = 0;
    this.played = 0; // samples of answer audio rendered, ever
    this.dropped = 0; // samples cleared before they played, ever
    this.gaps = 0; // times an answer ran dry before its end, ever
    this.streaming = false; // an answer's audio is still coming
    this.sinceReport = 0;
    this.port.onmessage = ({ data }) => {
      if (data.samples) {
        this.chunks.push(data.samples);
        this.queued += data.samples.length;
        this.streaming = true;
      } else if (data.clear) {
        this.dropped += this.queued;
        this.chunks = [];
        this.offset = 0;
        this.queued = 0;
        this.streaming = false;
        this.report();
      } else if (data.end) {
        this.streaming = false;
      }
    };
  }

  report() {
    const { played, queued, dropped, gaps } = this;
    this.port.postMessage({ played, queued, dropped, gaps });
    this.sinceReport = 0;
  }

  process(_inputs, outputs) {
    const out = outputs[0][0];
    let written = 0;
    while (written < out.length && this.chunks.length) {
      const chunk = this.chunks[0];
      const take = Math.min(out.length - written, chunk.length - this.offset);
      out.set(chunk.subarray(this.offset, this.offset + take), written);
      written += take;
      this.offset += take;
      if (this.offset === chunk.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    if (written < out.length && this.streaming) {
      this.gaps++; // dry with more of the answer to come
      this.streaming = false; // one gap until the next audio arrives
    }
    out.fill(0, written);
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    const wasPlaying = this.queued > 0;
    this.queued -= written;
    this.played += written;
    this.sinceReport += out.length;
    if (this.sinceReport >= sampleRate / 10 || (wasPlaying && this.queued === 0)) this.report();
    return true;
  }
}

registerProcessor('openlive-capture', Capture);
registerProcessor('openlive-playback', Playback);
