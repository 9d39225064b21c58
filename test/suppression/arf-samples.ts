// ARF (RFC 5965) samples for the parser's unit test and the end-to-end complaint test.
export const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, "\r\n"));

// Laid out as RFC 5965 Appendix B's example.
export const RFC5965_STYLE = crlf(`From: <abusedesk@example.com>
Date: Thu, 8 Mar 2005 17:40:36 EDT
Subject: FW: Earn money
To: <abuse@example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
     boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <somespammer@example.net>
Original-Rcpt-To: <user@example.com>
Arrival-Date: Thu, 8 Mar 2005 14:00:00 EDT
Reporting-MTA: dns; mail.example.com
Source-IP: 192.0.2.1
Authentication-Results: mail.example.com;
               spf=fail smtp.mail=somespammer@example.com
Reported-Domain: example.net
Reported-Uri: http://example.net/earn_money.html
Removal-Recipient: user@example.com

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

From: <somespammer@example.net>
Received: from mailserver.example.net (mailserver.example.net
        [192.0.2.1]) by example.com with ESMTP id M63d4137594e46;
        Thu, 08 Mar 2005 14:00:00 -0400
To: <Undisclosed Recipients>
Subject: Earn money
MIME-Version: 1.0
Content-type: text/plain
Message-ID: 8787KJKJ3K4J3K4J3K4J3.mail@example.net
Date: Thu, 02 Sep 2004 12:31:03 -0500

Spam Spam Spam
--part1_13d.2e68ed54_boundary--
`);

export function providerStyleReport(complainer: string, ourFrom: string): Buffer {
  return crlf(`From: staff@hotmail.example
To: fbl@local.test
Subject: complaint about message from 192.0.2.7
MIME-Version: 1.0
Content-Type: multipart/report; report-type="feedback-report"; boundary="b1"

--b1
Content-Type: text/plain

A user of our service marked this message as spam.

--b1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Provider-FBL/2.1
Version: 1
Original-Mail-From: <${ourFrom}>
Original-Rcpt-To: <redacted@hotmail.example>
Source-IP: 192.0.2.7
Arrival-Date: Mon, 07 Dec 2026 10:00:00 +0000

--b1
Content-Type: text/rfc822-headers

From: Alice <${ourFrom}>
To: Customer <${complainer}>
Subject: Our December offers
Message-ID: <offer-1@local.test>

--b1--
`);
}

