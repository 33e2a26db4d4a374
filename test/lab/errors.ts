// One error type for the lab, so a person sees one clear line saying what is wrong and how to fix it.
export class LabError extends Error {
  constructor(message: string, readonly fix?: string) {
    super(fix ? `${message} — fix: ${fix}` : message);
    this.name = 'LabError';
  }
}
