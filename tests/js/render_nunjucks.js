// Render each string of a JSON array (stdin) as Hexo does a post: Nunjucks with
// autoescape off (hexo/lib/extend/tag.js). Prints [{out} | {error}] as JSON.
"use strict";
const nunjucks = require("nunjucks");

const env = new nunjucks.Environment(null, { autoescape: false });
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const results = JSON.parse(input).map((text) => {
    try {
      return { out: env.renderString(text, {}) };
    } catch (err) {
      return { error: String(err && err.message ? err.message : err) };
    }
  });
  process.stdout.write(JSON.stringify(results));
});
