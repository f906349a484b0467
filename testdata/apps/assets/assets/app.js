document.title = "built by npm run build";
