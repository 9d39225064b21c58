// DSN (RFC 3464) samples for the parser's unit test and the end-to-end test.
import { crlf } from "./arf-samples.ts";

/** Laid out as Postfix's bounce(8) writes one (multipart/report, text/rfc822-headers returned). */
export function postfixStyleDsn(o: { to: string; failed: string; messageId: string; status?: string; from?: string }): Buffer {
  const status = o.status ?? "5.1.1";
  return crlf(`From: MAILER-DAEMON@relay.remote.test (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: ${o.to}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="4A1B2C3D.1700000000/relay.remote.test"
Message-Id: <20261207.4A1B2C3D@relay.remote.test>

This is a MIME-encapsulated message.

--4A1B2C3D.1700000000/relay.remote.test
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<${o.failed}>: host mx.final.test[192.0.2.9] said: 550 ${status} <${o.failed}>:
    Recipient address rejected: User unknown in local recipient table

--4A1B2C3D.1700000000/relay.remote.test
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.remote.test
X-Postfix-Queue-ID: 4A1B2C3D
X-Postfix-Sender: rfc822; ${o.to}
Arrival-Date: Mon,  7 Dec 2026 15:00:00 +0000 (UTC)

Final-Recipient: rfc822; ${o.failed}
Original-Recipient: rfc822;${o.failed}
Action: failed
Status: ${status}
Remote-MTA: dns; mx.final.test
Diagnostic-Code: smtp; 550 ${status} <${o.failed}>: Recipient address rejected:
    User unknown in local recipient table

--4A1B2C3D.1700000000/relay.remote.test
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: ${o.from ?? o.to}
To: ${o.failed}
Subject: hello
Message-ID: ${o.messageId}

--4A1B2C3D.1700000000/relay.remote.test--
`);
}

// RFC 3464 Appendix B's second example (abbreviated), several recipients, the original returned
// whole as message/rfc822.
export const RFC3464_STYLE = crlf(`Date: Thu, 7 Jul 1994 17:16:05 -0400
From: Mail Delivery Subsystem <MAILER-DAEMON@CS.UTK.EDU>
Message-Id: <199407072116.RAA14128@CS.UTK.EDU>
Subject: Returned mail: Cannot send message for 5 days
To: <owner-info-mime@cs.utk.edu>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
    boundary="RAA14128.773615765/CS.UTK.EDU"

--RAA14128.773615765/CS.UTK.EDU

The original message was received at Sat, 2 Jul 1994 17:10:28 -0400
from root@localhost

--RAA14128.773615765/CS.UTK.EDU
content-type: message/delivery-status

Reporting-MTA: dns; cs.utk.edu

Original-Recipient: rfc822;arathib@vnet.ibm.com
Final-Recipient: rfc822;arathib@vnet.ibm.com
Action: failed
Status: 4.0.0 (unknown temporary failure)
Diagnostic-Code: smtp; 426 connection timed out
Last-Attempt-Date: Thu, 7 Jul 1994 17:15:49 -0400

Final-Recipient: rfc822;wsnell@sdcc13.ucsd.edu
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 user unknown
Remote-MTA: dns; sdcc13.ucsd.edu

Final-Recipient: rfc822;nobody@example.com
Action: delayed
Status: 4.4.1

--RAA14128.773615765/CS.UTK.EDU
content-type: message/rfc822

Message-ID: <orig.1994@cs.utk.edu>
Subject: original

body
--RAA14128.773615765/CS.UTK.EDU--
`);
