/** The report's HTML shell: inline CSS only, no scripts, no external resources. */
import { escapeHtml } from './format.js';

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;color:#1b1f24;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:32px}
h3{font-size:15px;margin:18px 0 6px}h3 small{font-weight:normal;color:#57606a}
table{border-collapse:collapse;margin:6px 0 12px}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f6f8fa}td.metric,td.values,td.err,table.kv td,table.kv th,table.runs td{text-align:left}
td.values{color:#57606a;font-size:12px}pre{background:#f6f8fa;padding:10px;overflow:auto;font-size:12px}
.good{color:#1a7f37}.bad{color:#cf222e}tr.bad td{background:#ffebe9}tr.good td{background:#dafbe1}.muted{color:#57606a}
details{margin:0 0 12px}summary{cursor:pointer;color:#57606a}figure{margin:12px 0}figure svg{max-width:100%;height:auto}.banner{padding:8px 12px;border-radius:6px;margin:8px 0}
.banner.bad{background:#ffebe9;border:1px solid #cf222e}.banner.good{background:#dafbe1;border:1px solid #1a7f37}
`;

export interface PageSection {
  id: string;
  title: string;
  html: string;
}

export function renderPage(opts: { title: string; subtitle: string; banner?: string; sections: PageSection[] }): string {
  const nav = opts.sections.map((s) => `<a href="#${s.id}">${escapeHtml(s.title)}</a>`).join(' · ');
  const body = opts.sections.map((s) => `<section id="${s.id}"><h2>${escapeHtml(s.title)}</h2>\n${s.html}\n</section>`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(opts.title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(opts.title)}</h1>
<p class="muted">${escapeHtml(opts.subtitle)}</p>
${opts.banner ?? ''}
<nav>${nav}</nav>
${body}
</body>
</html>
`;
}
