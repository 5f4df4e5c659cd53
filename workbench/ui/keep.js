// Keeps this browser signed in across reloads (a Streamlit v2 component, see
// workbench/ui/access.py): hands the server the signed token of a sign-in or a membership, and
// the server sets it as an HttpOnly cookie (POST /api/keep, workbench/live.py); "" removes it
// (signing out). Each token is sent once per page load.
export default function (component) {
    const data = component.data;
    const sent = window.__wbKeep || (window.__wbKeep = {});
    for (const kind of ["signin", "member"]) {
        const want = data[kind];
        if (want === null || want === undefined || sent[kind] === want) { continue; }
        sent[kind] = want;
        const init = want
            ? {method: "POST", headers: {"Content-Type": "application/json"},
               body: JSON.stringify({token: want})}
            : {method: "DELETE"};
        fetch(want ? data.path : data.path + "?kind=" + kind,
              {...init, credentials: "same-origin"}).catch(() => { sent[kind] = undefined; });
    }
}
